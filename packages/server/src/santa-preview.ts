// What a candidate rule set would do to the Santa rules the fleet holds (docs/endpoints.md): every
// file a group's machines reported is decided again from the input of the decision standing for
// it, with the exceptions in force (the log's and the candidate's `exceptions.json`) and the
// file's review case, and the rule that answer stands for is compared with the group's rule now.
// Nothing is recorded: this reads the log and the Santa tables only.

import type { Ruleset } from "@clearance/engine";
import type { AuditLog } from "./audit/log.js";
import type { SantaFileRow } from "./audit/santa-store.js";
import type { ServerConfig } from "./config.js";
import { replayInput } from "./decide.js";
import { Metrics } from "./metrics.js";
import { ReviewService } from "./reviews.js";
import { santaRuleFor } from "./santa.js";

/** A rule that would change: what it is now (`none`: no rule) and what it would be. */
export interface SantaRuleChange {
  group: string;
  sha256: string;
  fileName: string | null;
  from: "ALLOWLIST" | "BLOCKLIST" | "none";
  to: "ALLOWLIST" | "BLOCKLIST" | "none";
  /** the candidate's answer, its rule and reason */
  decision: "allow" | "deny" | "review";
  rule: string | null;
  reason: string;
  /** machines of the group that reported the file */
  machines: number;
}

export interface SantaGroupPreview {
  group: string;
  files: number;
  /** rules that would appear, by policy */
  added: { ALLOWLIST: number; BLOCKLIST: number };
  /** rules that would go (the file under review instead: the mode decides) */
  removed: { ALLOWLIST: number; BLOCKLIST: number };
  /** rules that would turn from allow to block or back */
  flipped: number;
  /** machines that reported at least one file whose rule would change, counted per file */
  machines: number;
}

export interface SantaPreview {
  groups: SantaGroupPreview[];
  /** the changes, up to `limit`, blocks first, then by machines */
  changes: SantaRuleChange[];
  /** files whose standing decision could not be decided again (its input no longer maps) */
  skipped: number;
}

const PAGE = 1_000;

type Policy = SantaRuleChange["from"];
const shown = (policy: string | undefined): Policy =>
  policy === "ALLOWLIST" || policy === "BLOCKLIST" ? policy : "none";

export async function previewSantaRules(
  log: AuditLog,
  candidate: Ruleset,
  options: {
    now: number;
    reviews: ServerConfig["reviews"];
    blockMessage: string | null;
    limit?: number;
  },
): Promise<SantaPreview> {
  const limit = options.limit ?? 50;
  // the log's exceptions and cases as the server folds them, with the candidate's exceptions.json
  const reviews = await ReviewService.open(log, options.reviews, new Metrics({ process: false }), {
    clock: () => options.now,
    fileExceptions: () => candidate.exceptions,
  });
  const store = log.store.santa;
  const groups = new Map<string, SantaGroupPreview>();
  const changes: SantaRuleChange[] = [];
  let skipped = 0;
  let after: { group: string; sha256: string } | undefined;
  for (;;) {
    const page: SantaFileRow[] = await store.files({ limit: PAGE, ...(after ? { after } : {}) });
    if (page.length === 0) break;
    after = { group: page.at(-1)!.group, sha256: page.at(-1)!.sha256 };
    const byGroup = new Map<string, SantaFileRow[]>();
    for (const f of page) byGroup.set(f.group, [...(byGroup.get(f.group) ?? []), f]);
    for (const [group, files] of byGroup) {
      const now = await store.policies(
        group,
        "BINARY",
        files.map((f) => f.sha256),
      );
      let g = groups.get(group);
      if (!g) {
        g = {
          group,
          files: 0,
          added: { ALLOWLIST: 0, BLOCKLIST: 0 },
          removed: { ALLOWLIST: 0, BLOCKLIST: 0 },
          flipped: 0,
          machines: 0,
        };
        groups.set(group, g);
      }
      for (const file of files) {
        g.files++;
        const recorded = await log.get(file.decisionId);
        const snapshot = recorded?.input as {
          result?: unknown;
          context?: unknown;
          format?: unknown;
        } | null;
        const replayed = snapshot?.result === undefined ? undefined : replayInput(snapshot);
        if (!replayed?.ok) {
          skipped++;
          continue;
        }
        const result = replayed.result;
        const context = snapshot!.context;
        const exception = reviews.exceptionFor(result, context, options.now);
        const kase = reviews.caseFor(result.sha256, context, exception !== undefined);
        const decision = candidate.decide(result, {
          context,
          now: options.now,
          ...(exception === undefined ? {} : { exception }),
          ...(kase === undefined ? {} : { case: kase }),
        });
        const to = shown(
          santaRuleFor(
            group,
            {
              id: file.decisionId,
              sha256: file.sha256,
              decision: decision.decision,
              reason: decision.reason,
            },
            options.blockMessage,
          ).policy,
        );
        const from = shown(now.get(file.sha256));
        if (from === to) continue;
        if (from === "none" && to !== "none") g.added[to]++;
        else if (to === "none" && from !== "none") g.removed[from]++;
        else g.flipped++;
        g.machines += file.machines;
        changes.push({
          group,
          sha256: file.sha256,
          fileName: recorded?.entry.fileName ?? null,
          from,
          to,
          decision: decision.decision,
          rule: decision.rule,
          reason: decision.reason,
          machines: file.machines,
        });
      }
    }
    if (page.length < PAGE) break;
  }
  // what blocks comes first: a new block stops people working; then what reaches most machines
  const weight = (c: SantaRuleChange) =>
    c.to === "BLOCKLIST" ? 0 : c.from === "ALLOWLIST" ? 1 : 2;
  changes.sort(
    (a, b) => weight(a) - weight(b) || b.machines - a.machines || a.sha256.localeCompare(b.sha256),
  );
  return { groups: [...groups.values()], changes: changes.slice(0, limit), skipped };
}
