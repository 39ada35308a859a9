import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { Decision, InputFormat, Ruleset } from "@clearance/engine";
import { INPUT_FORMATS, toCanonical } from "@clearance/engine";
import { AuditUnavailableError } from "./audit/backend.js";
import type { AuditEntry, AuditRecord, DecisionSource } from "./audit/entry.js";
import { newId } from "./audit/ids.js";
import type { AuditLog } from "./audit/log.js";
import type { Metrics } from "./metrics.js";
import { type NotificationTarget, notificationsFor } from "./notify.js";
import { ProblemError, under } from "./problems.js";
import { redact } from "./redact.js";
import type { RulesHolder } from "./rules.js";
import type { PlatformResults } from "./sync.js";
import type { DecisionRequest } from "./wire.js";

// declared once with the route schemas, in wire.ts
export type { DecisionRequest } from "./wire.js";

export interface RequestMeta {
  source: DecisionSource;
  /** the API key id, or null without authentication */
  requester: string | null;
  deliveryId?: string;
}

/** What the API answers for one decision. */
export interface DecisionAnswer {
  decisionId: string;
  sha256: string;
  fileName: string | null;
  decision: Decision["decision"];
  reason: string;
  rule: string | null;
  matched: string[];
  monitored: string[];
  errors: Decision["errors"];
  ruleset: { revision: string; commit: string | null };
  evaluatedAt: string;
  warnings?: string[];
  explain?: Decision["explain"];
}

export interface DecisionServiceOptions {
  /** JSON Pointers into `{result, context}` removed before the input is stored */
  redact: readonly string[];
  /** where decisions are notified (queued in the outbox with each entry) */
  notify?: readonly NotificationTarget[];
  /** where results of files never seen are fetched from */
  platform?: PlatformResults | null;
}

/** Evaluated but not yet recorded. */
interface Prepared {
  answer: DecisionAnswer;
  record: Omit<AuditRecord, "inputHash">;
  input: string;
}

/**
 * Decides and records. The HTTP layer hands over parsed bodies and gets answers or ProblemErrors;
 * every answer it gets has been durably written to the audit log first.
 */
export class DecisionService {
  constructor(
    private readonly rules: RulesHolder,
    private readonly shadow: RulesHolder | null,
    private readonly audit: AuditLog,
    private readonly metrics: Metrics,
    private readonly options: DecisionServiceOptions,
  ) {}

  /**
   * Decides one request and records it; throws ProblemError for bad input or an unavailable log.
   * `rawJson` is the request's JSON text when the caller has it: without redaction it is stored as
   * the input snapshot as received, which spares serialising the parsed body again.
   */
  async decide(
    request: DecisionRequest,
    meta: RequestMeta,
    rawJson?: string,
  ): Promise<DecisionAnswer> {
    const prepared = this.prepare(request, meta, "", rawJson);
    return this.record(prepared);
  }

  /** Whether files never seen can be fetched from the platform. */
  get canFetch(): boolean {
    return this.options.platform != null;
  }

  /**
   * Fetches a file's result from the platform (through the client's cache unless `fresh`), decides
   * and records it. A result that is not a completed, valid analysis is a problem naming the field
   * at fault in the platform's object, never a decision on missing data.
   */
  async decideFromPlatform(
    sha256: string,
    meta: RequestMeta,
    options: { fresh?: boolean } = {},
  ): Promise<DecisionAnswer> {
    const platform = this.options.platform;
    if (!platform)
      throw new ProblemError(
        "not_found",
        `no decision is recorded for \`${sha256}\`, and no platform is configured to fetch its result from`,
      );
    const r = await platform.getResult(sha256, options);
    if (!r)
      throw new ProblemError(
        "not_found",
        `no decision is recorded for \`${sha256}\`, and the platform has no analysis of it`,
      );
    if (!r.outcome.ok)
      throw new ProblemError(
        "platform_result_invalid",
        `the platform's result for \`${sha256}\` cannot be decided: ${r.outcome.problems[0]?.message ?? "invalid"}`,
        under("platform:", r.outcome.problems),
      );
    return this.decide({ result: r.outcome.result }, meta);
  }

  /**
   * Decides every item; an item with bad input gets its own problem, the others are recorded in the
   * same group commits. If the log cannot record, the whole batch is refused. Items are decided in
   * slices of at most `sliceMs`, yielding to the event loop in between, so that a large batch
   * never holds other requests up for longer than a slice.
   */
  async decideBatch(
    items: readonly DecisionRequest[],
    meta: RequestMeta,
    options: { sliceMs?: number } = {},
  ): Promise<
    (DecisionAnswer | { error: { code: string; detail: string; problems: unknown[] } })[]
  > {
    const sliceMs = options.sliceMs ?? Number.POSITIVE_INFINITY;
    const answers: Promise<
      DecisionAnswer | { error: { code: string; detail: string; problems: unknown[] } }
    >[] = [];
    let sliceStart = performance.now();
    try {
      for (const [i, item] of items.entries()) {
        let prepared: Prepared;
        try {
          prepared = this.prepare(item, meta, `/items/${i}`);
        } catch (error) {
          if (!(error instanceof ProblemError)) throw error;
          this.metrics.rejected.inc({ code: error.code });
          answers.push(
            Promise.resolve({
              error: { code: error.code, detail: error.detail, problems: error.problems },
            }),
          );
          continue;
        }
        const recorded = this.record(prepared);
        // handled now, inspected below: a failure while this loop yields must not go unhandled
        recorded.catch(() => {});
        answers.push(recorded);
        if (performance.now() - sliceStart >= sliceMs) {
          await yieldToLoop();
          sliceStart = performance.now();
        }
      }
    } finally {
      // on a bug, the entries already queued still settle before the error is answered
      if (answers.length < items.length) await Promise.allSettled(answers);
    }
    const settled = await Promise.allSettled(answers);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return settled.map((s) => (s as PromiseFulfilledResult<DecisionAnswer>).value);
  }

  private prepare(
    request: DecisionRequest,
    meta: RequestMeta,
    at: string,
    rawJson?: string,
  ): Prepared {
    const ruleset = this.rules.ruleset;
    const canonical = toCanonical(
      request.result,
      request.format === undefined ? undefined : { format: request.format },
    );
    if (!canonical.ok)
      throw new ProblemError(
        "invalid_result",
        `the analysis result has ${canonical.problems.length} problem${canonical.problems.length === 1 ? "" : "s"}`,
        under(`${at}/result`, canonical.problems),
      );
    const contextProblems = ruleset.checkContext(request.context);
    if (contextProblems.length > 0)
      throw new ProblemError(
        "invalid_context",
        contextProblems[0]!.message,
        under(`${at}/context`, contextProblems),
      );
    const result = canonical.result;
    const now = Date.now();
    const started = process.hrtime.bigint();
    const decision = ruleset.decide(result, {
      context: request.context,
      now,
      explain: request.explain === true,
    });
    const latencyUs = Number(process.hrtime.bigint() - started) / 1000;
    this.metrics.evaluation.observe(latencyUs / 1e6);
    const shadow = this.decideShadow(result, request.context, now, decision);

    const id = newId(now);
    const evaluatedAt = new Date(now).toISOString();
    const commit = ruleset.commit?.sha ?? null;
    const redacting = this.options.redact.length > 0;
    const snapshot =
      rawJson !== undefined && !redacting
        ? undefined
        : {
            ...redact(
              request.context === undefined ? { result } : { result, context: request.context },
              this.options.redact,
            ),
            // says so, for replays: a canonical result may carry keys detection would misread
            format: "canonical" as const,
          };
    const answer: DecisionAnswer = {
      decisionId: id,
      sha256: result.sha256,
      fileName: result.fileName ?? null,
      decision: decision.decision,
      reason: decision.reason,
      rule: decision.rule,
      matched: decision.matched,
      monitored: decision.monitored,
      errors: decision.errors,
      ruleset: { revision: decision.revision, commit },
      evaluatedAt,
    };
    if (canonical.warnings && canonical.warnings.length > 0) answer.warnings = canonical.warnings;
    if (decision.explain) answer.explain = decision.explain;
    const record: Omit<AuditRecord, "inputHash"> = {
      id,
      time: evaluatedAt,
      source: meta.source,
      requester: meta.requester,
      sha256: result.sha256,
      fileName: snapshot
        ? typeof snapshot.result.fileName === "string"
          ? snapshot.result.fileName
          : null
        : (result.fileName ?? null),
      decision: decision.decision,
      rule: decision.rule,
      reason: decision.reason,
      matched: decision.matched,
      monitored: decision.monitored,
      errors: decision.errors,
      ruleset: { revision: decision.revision, commit, dirty: ruleset.commit?.dirty ?? false },
      latencyUs: Math.round(latencyUs * 1000) / 1000,
      shadow,
      deliveryId: meta.deliveryId ?? null,
      explain: decision.explain ?? null,
    };
    return { answer, record, input: snapshot ? JSON.stringify(snapshot) : rawJson! };
  }

  private decideShadow(
    result: Parameters<Ruleset["decide"]>[0],
    context: unknown,
    now: number,
    live: Decision,
  ): AuditRecord["shadow"] {
    if (!this.shadow) return null;
    const ruleset = this.shadow.ruleset;
    try {
      const d = ruleset.decide(result, { context, now });
      if (d.decision !== live.decision)
        this.metrics.shadowDisagreements.inc({ live: live.decision, shadow: d.decision });
      return { decision: d.decision, rule: d.rule, revision: d.revision };
    } catch (error) {
      // the shadow never affects the live answer, not even by failing
      return {
        decision: "error",
        rule: null,
        revision: `${ruleset.revision}: ${(error as Error).message}`,
      };
    }
  }

  private async record(p: Prepared): Promise<DecisionAnswer> {
    let entry: AuditEntry;
    try {
      const notify = this.options.notify;
      entry = await this.audit.append(
        p.record,
        p.input,
        notify && notify.length > 0 ? notificationsFor(notify, p.record) : [],
      );
    } catch (error) {
      if (error instanceof AuditUnavailableError)
        throw new ProblemError("audit_unavailable", error.message, [], { "retry-after": "1" });
      throw error;
    }
    this.metrics.decisions.inc({
      decision: entry.decision,
      rule: entry.rule ?? "(default)",
      source: entry.source,
    });
    return p.answer;
  }

  /**
   * The explanation of a recorded decision: the stored one, or, when none was stored and the live
   * rules are the revision that decided, the same evaluation again at the recorded time.
   */
  explainEntry(
    entry: AuditEntry,
    input: unknown,
  ):
    | { explain: unknown; source: "stored" | "recomputed" }
    | { explain: null; source: "unavailable"; why: string } {
    if (entry.explain != null) return { explain: entry.explain, source: "stored" };
    if (this.options.redact.length > 0)
      return {
        explain: null,
        source: "unavailable",
        why: "stored inputs are redacted (`audit.redact`), so evaluating one again would not show what was decided",
      };
    const ruleset = this.rules.ruleset;
    if (ruleset.revision !== entry.ruleset.revision)
      return {
        explain: null,
        source: "unavailable",
        why: `the entry was decided by revision \`${entry.ruleset.revision}\`; the live rules are \`${ruleset.revision}\``,
      };
    const snapshot = input as { result?: unknown; context?: unknown; format?: InputFormat } | null;
    const canonical = snapshot ? replayInput(snapshot) : undefined;
    if (!canonical?.ok)
      return {
        explain: null,
        source: "unavailable",
        why: "the stored input cannot be replayed (redacted or missing)",
      };
    const d = ruleset.decide(canonical.result, {
      context: snapshot!.context,
      now: entry.time,
      explain: true,
    });
    return { explain: d.explain, source: "recomputed" };
  }
}

/**
 * The result of a stored input snapshot, as it was decided. A snapshot is the request as received
 * (its `format` forcing one; without one the endpoint detected it, and so does this) or
 * `{result, context, format: "canonical"}`. Snapshots stored before snapshots said their format
 * were all canonical: when detection fails on one of those, it is read as canonical.
 */
function replayInput(snapshot: {
  result?: unknown;
  format?: unknown;
}): ReturnType<typeof toCanonical> {
  if (INPUT_FORMATS.includes(snapshot.format as InputFormat))
    return toCanonical(snapshot.result, { format: snapshot.format as InputFormat });
  const detected = toCanonical(snapshot.result);
  return detected.ok ? detected : toCanonical(snapshot.result, { format: "canonical" });
}
