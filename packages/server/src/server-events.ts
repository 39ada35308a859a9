// The server's own events in its chain (`server_event` entries, audit/kinds.ts): rule sets a reload
// made live, reloads refused, and verification that found damage. They are recorded like every
// other entry, so the log says when the rules changed, and SIEM delivery sends them like everything
// else. The rule set a server starts with is not an event: every decision names its revision.

import type { Ruleset } from "@clearance/engine";
import { newId } from "./audit/ids.js";
import { SERVER_EVENT_KIND } from "./audit/kinds.js";
import type { AuditLog, VerifyReport } from "./audit/log.js";
import type { ReloadError } from "./rules.js";
import type { ServerEventDetail } from "./siem-events.js";

export class ServerEvents {
  /** the live revision, as the last reload left it */
  private revision: string;

  constructor(
    private readonly audit: AuditLog,
    live: Ruleset,
    private readonly clock: () => number = Date.now,
  ) {
    this.revision = live.revision;
  }

  /** A reload made a rule set of another revision live. */
  async rulesetLoaded(ruleset: Ruleset, trigger: string): Promise<void> {
    if (ruleset.revision === this.revision) return;
    const previous = this.revision;
    this.revision = ruleset.revision;
    await this.record({
      event: "ruleset_loaded",
      ruleset: { revision: ruleset.revision, commit: ruleset.commit?.sha ?? null },
      previous,
      rules: ruleset.rules.length,
      trigger,
    });
  }

  /** A reload refused: the rules in force stay `current`. */
  rulesetFailed(current: Ruleset, error: ReloadError, trigger: string): Promise<void> {
    const first = error.diagnostics[0];
    return this.record({
      event: "ruleset_failed",
      ruleset: { revision: current.revision, commit: current.commit?.sha ?? null },
      trigger,
      code: first?.code ?? "reload_failed",
      message: error.messages.join("\n"),
      location: first ? `${first.file}:${first.line}:${first.column}` : null,
    });
  }

  /** Verification found a broken link or damage: recorded in this replica's chain. */
  async verifyFailed(report: VerifyReport): Promise<void> {
    if (report.ok) return;
    const broken = report.broken;
    await this.record({
      event: "verify_failed",
      chain: broken?.chain ?? this.audit.chain,
      seq: broken?.seq ?? 0,
      problem: broken?.problem ?? "damaged",
      message: broken
        ? `entry ${broken.seq} of chain \`${broken.chain}\` does not verify: ${broken.problem.replaceAll("_", " ")}`
        : `the audit store is damaged: ${report.damage?.message ?? "unreadable entries"}`,
    });
  }

  private async record(detail: ServerEventDetail): Promise<void> {
    const now = this.clock();
    await this.audit.appendEntry(SERVER_EVENT_KIND, {
      id: newId(now),
      time: new Date(now).toISOString(),
      event: detail.event,
      detail,
    });
  }
}
