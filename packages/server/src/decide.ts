import { createHash, randomUUID } from "node:crypto";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type {
  AnalysisResult,
  CaseInput,
  Decision,
  ExceptionInput,
  InputFormat,
  Ruleset,
} from "@clearance/engine";
import { INPUT_FORMATS, listOf, toCanonical } from "@clearance/engine";
import { AuditUnavailableError } from "./audit/backend.js";
import {
  type AuditEntry,
  type DecisionRecord,
  type DecisionSource,
  SHADOW_FAILED,
} from "./audit/entry.js";
import { newId } from "./audit/ids.js";
import { REVIEW_CASE_KIND } from "./audit/kinds.js";
import type { AuditLog } from "./audit/log.js";
import {
  IdempotencyKeyInUseError,
  IdempotencyKeyReusedError,
  InvalidContextError,
  InvalidInputError,
  InvalidResultError,
  NotFoundError,
  PlatformResultInvalidError,
  under,
} from "./errors.js";
import type { Metrics } from "./metrics.js";
import { type NotificationTarget, notificationsFor } from "./notify.js";
import { redact } from "./redact.js";
import type { CaseEntry, Redecision, ReviewService } from "./reviews.js";
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

/** What the API answers for one decision: a projection of its record (`answerOf`). */
export interface DecisionAnswer {
  decisionId: string;
  sha256: string;
  fileName: string | null;
  decision: Decision["decision"];
  reason: string;
  rule: string | null;
  matched: string[];
  monitored: string[];
  errors: DecisionRecord["errors"];
  ruleset: { revision: string; commit: string | null };
  evaluatedAt: string;
  warnings?: string[];
  explain?: Decision["explain"];
  approvalForbiddenBy?: string[];
  exception?: string;
  case?: string;
}

export interface DecisionServiceOptions {
  /** JSON Pointers into `{result, context}` removed before the input is stored */
  redact: readonly string[];
  /** where decisions are notified (queued in the outbox with each entry) */
  notify?: readonly NotificationTarget[];
  /** where results of files never seen are fetched from */
  platform?: PlatformResults | null;
  /** where they are fetched from when the platform (if any) has none: VirusTotal's reports */
  virustotal?: Pick<PlatformResults, "getResult"> | null;
  /** review cases and exceptions (docs/reviews.md); without, rules see neither */
  reviews?: ReviewService | null;
  /** the time decisions are made at (tests move it) */
  clock?: () => number;
  /**
   * Told of each decision as it is recorded, with its result as it was decided, when nothing is
   * redacted from what is stored: SIEM events are made from them instead of reading the entry and
   * its input back.
   */
  observe?: (record: DecisionRecord, result: AnalysisResult) => void;
}

/**
 * What only the request that made a decision sees beside its record: the file name as sent (the
 * record's is the redacted snapshot's), the input's format warnings and the explanation asked for.
 */
export interface AskedFor {
  fileName: string | null;
  warnings: readonly string[];
}

/**
 * The API's answer for a decision record. Given `asked` (the request that made it), the answer
 * names the file as sent, with the format warnings and the explanation asked for; without it (a
 * recorded decision read back), it is the record as stored.
 */
export function answerOf(record: DecisionRecord, asked?: AskedFor): DecisionAnswer {
  const answer: DecisionAnswer = {
    decisionId: record.id,
    sha256: record.sha256,
    fileName: asked ? asked.fileName : record.fileName,
    decision: record.decision,
    reason: record.reason,
    rule: record.rule,
    matched: record.matched,
    monitored: record.monitored,
    errors: record.errors,
    ruleset: { revision: record.ruleset.revision, commit: record.ruleset.commit },
    evaluatedAt: record.time,
  };
  if (asked && asked.warnings.length > 0) answer.warnings = [...asked.warnings];
  if (asked && record.explain != null) answer.explain = record.explain as Decision["explain"];
  if (record.approvalForbiddenBy !== undefined && record.approvalForbiddenBy.length > 0)
    answer.approvalForbiddenBy = [...record.approvalForbiddenBy];
  if (record.exception != null) answer.exception = record.exception;
  if (record.case != null) answer.case = record.case;
  return answer;
}

/** A batch item's answer: its decision, or why it has none (bad input, or the log refused it). */
export type BatchItem =
  | DecisionAnswer
  | { error: InvalidInputError | AuditUnavailableError | NotFoundError };

/** How long an idempotency key names its batch: a batch sent again later is a new batch. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 3_600_000;
/**
 * How long one request holds a key: longer than any batch takes to answer. A server that stops
 * while it holds one lets it go when the lease ends.
 */
export const IDEMPOTENCY_KEY_LEASE_MS = 120_000;
const RELEASE_RETRY_MS = 1_000;

/** Evaluated but not yet recorded. */
interface Prepared {
  record: DecisionRecord;
  asked: AskedFor;
  input: string;
  /** the review case entry to write with the decision: opening or withdrawing its case */
  caseEntry: CaseEntry | null;
}

/**
 * Decides and records. The HTTP layer hands over parsed bodies and gets answers, or domain errors
 * (`errors.ts`) to map; every answer it gets has been durably written to the audit log first.
 */
export class DecisionService {
  constructor(
    private readonly rules: RulesHolder,
    private readonly shadow: RulesHolder | null,
    private readonly audit: AuditLog,
    private readonly metrics: Metrics,
    private readonly options: DecisionServiceOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    options.reviews?.setRedecider((r, deliveryId, unlessStill) =>
      this.decideAgain(r, deliveryId, unlessStill === undefined ? {} : { unlessStill }),
    );
  }

  private readonly clock: () => number;

  /**
   * Decides a file again from a recorded input (a review case resolved or expired, an exception
   * created or ended), with source `review`, at most once per `deliveryId`: a delivery recorded
   * already is not decided again. Null when no decision of the file is recorded to start from.
   */
  async decideAgain(
    r: Redecision,
    deliveryId: string,
    options: { unlessStill?: Decision["decision"] } = {},
  ): Promise<DecisionRecord | null> {
    const recorded = (await this.audit.deliveryEntries([deliveryId])).get(deliveryId);
    if (recorded !== undefined) return (await this.audit.get(recorded))?.entry ?? null;
    const from =
      r.decisionId === null
        ? await this.audit.latestFor(r.sha256).then((e) => (e ? this.audit.get(e.id) : undefined))
        : await this.audit.get(r.decisionId);
    if (!from) return null;
    const snapshot = from.input as {
      result?: unknown;
      context?: unknown;
      format?: InputFormat;
    } | null;
    if (!snapshot || snapshot.result === undefined) return null;
    // read as it was when decided; then decided as the canonical result it was read as
    const replayed = replayInput(snapshot);
    if (!replayed.ok) return null;
    const request: DecisionRequest = { result: replayed.result, format: "canonical" };
    if (snapshot.context !== undefined) request.context = snapshot.context;
    const meta: RequestMeta = { source: "review", requester: null };
    // a trial first, recording nothing, when only a changed decision is to be recorded
    if (options.unlessStill !== undefined) {
      const trial = this.prepare(request, meta, "", undefined, false);
      if (trial.record.decision === options.unlessStill) return null;
    }
    const prepared = this.prepare(request, meta, "");
    await this.record(prepared, deliveryId);
    this.redecided?.(r, prepared.record);
    return prepared.record;
  }

  /** told of each re-decision once it is recorded (the Santa sync server follows them) */
  redecided: ((r: Redecision, record: DecisionRecord) => void) | undefined;

  /**
   * Decides one request and records it; throws InvalidInputError for bad input and
   * AuditUnavailableError when the log cannot record it. With an idempotency key, a request
   * recorded before under the key is answered as recorded (see `decideBatch`).
   * `rawJson` is the request's JSON text when the caller has it: without redaction it is stored as
   * the input snapshot as received, which spares serialising the parsed body again.
   */
  async decide(
    request: DecisionRequest,
    meta: RequestMeta,
    rawJson?: string,
    options: { idempotencyKey?: string } = {},
  ): Promise<DecisionAnswer> {
    const key = options.idempotencyKey;
    if (key === undefined) return this.record(this.prepare(request, meta, "", rawJson));
    // a request with a key is a batch of one, sent again as often as the caller needs
    return this.underKey(meta, key, rawJson ?? JSON.stringify(request), async (prefix) => {
      const id = `${prefix}0`;
      const earlier = (await this.audit.deliveryEntries([id])).get(id);
      if (earlier === undefined) return this.record(this.prepare(request, meta, "", rawJson), id);
      const answer = await this.recordedAnswer(earlier);
      if ("error" in answer) throw answer.error;
      return answer;
    });
  }

  /** Whether files never seen can be fetched from the platform. */
  get canFetch(): boolean {
    return this.options.platform != null || this.options.virustotal != null;
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
    const { platform, virustotal } = this.options;
    if (!platform && !virustotal)
      throw new NotFoundError(
        `no decision is recorded for \`${sha256}\`, and no platform is configured to fetch its result from`,
      );
    const fetched = await this.fetchAnalysis(sha256, options);
    if (!fetched)
      throw new NotFoundError(
        `no decision is recorded for \`${sha256}\`, and ${platform && virustotal ? "neither the platform nor VirusTotal has" : `${platform ? "the platform" : "VirusTotal"} has no`} analysis of it`,
      );
    return this.decide({ result: fetched }, meta);
  }

  /**
   * A file's analysis from the platform, else from VirusTotal (each through its cache unless
   * `fresh`); undefined when neither is configured or has one. A result that is not a completed,
   * valid analysis is PlatformResultInvalidError, naming the field at fault in the source's object.
   */
  async fetchAnalysis(
    sha256: string,
    options: { fresh?: boolean } = {},
  ): Promise<AnalysisResult | undefined> {
    const { platform, virustotal } = this.options;
    let r = platform ? await platform.getResult(sha256, options) : undefined;
    let from = "the platform";
    if (!r && virustotal) {
      r = await virustotal.getResult(sha256, options);
      from = "VirusTotal";
    }
    if (!r) return undefined;
    if (!r.outcome.ok)
      throw new PlatformResultInvalidError(
        `${from === "VirusTotal" ? "VirusTotal's report" : "the platform's result"} for \`${sha256}\` cannot be decided: ${r.outcome.problems[0]?.message ?? "invalid"}`,
        under(from === "VirusTotal" ? "virustotal:" : "platform:", r.outcome.problems),
      );
    return r.outcome.result;
  }

  /**
   * Decides every item, each on its own: an item is answered with its decision once its entry is
   * durable, or with its own error, bad input (InvalidInputError) or a write the log refused
   * (AuditUnavailableError). The entries are still written in shared group commits. Only when
   * the log recorded none of the items it was given is the whole batch refused (the
   * AuditUnavailableError is thrown): an answer never hides an item that was recorded. Items are
   * decided in slices of at most `sliceMs`, yielding to the event loop in between, so that a large
   * batch never holds other requests up for longer than a slice.
   *
   * With an idempotency key, the batch is answered by one request at a time (another gets
   * IdempotencyKeyInUseError), and an item recorded by an earlier request with the same key and
   * body is answered with its recorded decision instead of being decided again: each item is
   * recorded once however often the batch is sent. The key with another body is
   * IdempotencyKeyReusedError. Keys are per requester and last `IDEMPOTENCY_KEY_TTL_MS`.
   */
  async decideBatch(
    items: readonly DecisionRequest[],
    meta: RequestMeta,
    options: { sliceMs?: number; idempotencyKey?: string } = {},
  ): Promise<BatchItem[]> {
    const sliceMs = options.sliceMs ?? Number.POSITIVE_INFINITY;
    const key = options.idempotencyKey;
    if (key === undefined) return this.decideItems(items, meta, sliceMs, null);
    return this.underKey(meta, key, JSON.stringify(items), (prefix) =>
      this.decideItems(items, meta, sliceMs, prefix),
    );
  }

  /**
   * Runs `work` holding an idempotency key (`claimKey`), with the prefix of the delivery ids of
   * the request's items: the key's, since it was last taken anew.
   */
  private async underKey<T>(
    meta: RequestMeta,
    key: string,
    body: string,
    work: (prefix: string) => Promise<T>,
  ): Promise<T> {
    const requester = meta.requester ?? "";
    const now = Date.now();
    const holder = randomUUID();
    const lockedUntil = now + IDEMPOTENCY_KEY_LEASE_MS;
    const claim = await this.audit.claimKey({
      holder,
      requester,
      key,
      bodyHash: createHash("sha256").update(body).digest("hex"),
      now: new Date(now).toISOString(),
      lockedUntil: new Date(lockedUntil).toISOString(),
      expiredBefore: new Date(now - IDEMPOTENCY_KEY_TTL_MS).toISOString(),
    });
    if (claim.outcome === "reused")
      throw new IdempotencyKeyReusedError(
        `idempotency key \`${key}\` was sent with another body; a new request needs a new key`,
      );
    if (claim.outcome === "busy")
      throw new IdempotencyKeyInUseError(
        `a request with idempotency key \`${key}\` is being answered; send it again when it is`,
      );
    // the items' delivery ids: written with each item's entry, in its transaction
    const prefix = `key:${createHash("sha256").update(`${requester}\n${key}\n${claim.createdAt}`).digest("hex")}:`;
    try {
      return await work(prefix);
    } finally {
      // released before the answer goes out: a client that sends the request again as soon as
      // it is answered finds the key free, not `idempotency_key_in_use`
      await this.audit
        .releaseKey(requester, key, holder)
        .catch(() => this.release(requester, key, holder, lockedUntil));
    }
  }

  /**
   * Lets the key go. The log may be down (the reason the batch ended): then it is tried again each
   * second until the lease ends by itself, so that a retry need not wait the whole lease.
   */
  private release(requester: string, key: string, holder: string, until: number): void {
    this.audit.releaseKey(requester, key, holder).catch(() => {
      if (Date.now() + RELEASE_RETRY_MS < until)
        setTimeout(() => this.release(requester, key, holder, until), RELEASE_RETRY_MS).unref();
    });
  }

  private async decideItems(
    items: readonly DecisionRequest[],
    meta: RequestMeta,
    sliceMs: number,
    prefix: string | null,
  ): Promise<BatchItem[]> {
    const recorded =
      prefix === null
        ? new Map<string, string>()
        : await this.audit.deliveryEntries(items.map((_, i) => `${prefix}${i}`));
    const answers: Promise<BatchItem>[] = [];
    let sliceStart = performance.now();
    let recording = 0;
    try {
      for (const [i, item] of items.entries()) {
        const deliveryId = prefix === null ? undefined : `${prefix}${i}`;
        const earlier = deliveryId === undefined ? undefined : recorded.get(deliveryId);
        if (earlier !== undefined) {
          answers.push(this.recordedAnswer(earlier));
          continue;
        }
        let prepared: Prepared;
        try {
          prepared = this.prepare(item, meta, `/items/${i}`);
        } catch (error) {
          if (!(error instanceof InvalidInputError)) throw error;
          answers.push(Promise.resolve({ error }));
          continue;
        }
        recording++;
        const answer = this.record(prepared, deliveryId).catch((error: unknown) => {
          if (error instanceof AuditUnavailableError) return { error };
          throw error;
        });
        // handled now, inspected below: a failure while this loop yields must not go unhandled
        answer.catch(() => {});
        answers.push(answer);
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
    const out = settled.map((s) => (s as PromiseFulfilledResult<BatchItem>).value);
    const unrecorded = out.filter(
      (a): a is { error: AuditUnavailableError } =>
        "error" in a && a.error instanceof AuditUnavailableError,
    );
    if (recording > 0 && unrecorded.length === recording) throw unrecorded[0]!.error;
    return out;
  }

  /** An item recorded by an earlier request with the same idempotency key, as it was recorded. */
  private async recordedAnswer(id: string): Promise<BatchItem> {
    const found = await this.audit.get(id).catch((error: unknown) => {
      if (error instanceof AuditUnavailableError) return error;
      throw error;
    });
    if (found instanceof AuditUnavailableError) return { error: found };
    if (!found)
      return {
        error: new NotFoundError(
          `this item was recorded as \`${id}\`, which is no longer in the audit log`,
        ),
      };
    const { entry } = found;
    return answerOf(entry, { fileName: entry.fileName, warnings: [] });
  }

  private prepare(
    request: DecisionRequest,
    meta: RequestMeta,
    at: string,
    rawJson?: string,
    /** whether the decision opens, joins or withdraws its file's case (not for a trial) */
    track = true,
  ): Prepared {
    const ruleset = this.rules.ruleset;
    // one request, one decision: a list of results (a VirusTotal search answer) is refused with
    // the endpoint that takes its items, each as it is
    const list = listOf(request.result);
    if (list !== undefined) {
      const n = list.items.length;
      const items = `${n} item${n === 1 ? "" : "s"}`;
      throw new InvalidResultError(
        at === ""
          ? `the analysis result is a list of ${items} (${list.what}), not one result: send its items to \`POST /v1/decisions/batch\`, each as the \`result\` of one item (\`{"items": [{"result": <${list.at}[0]>}, ...]}\`)`
          : `the analysis result is a list of ${items} (${list.what}), not one result: make each of them an item of the batch`,
        [
          {
            pointer: `${at}/result${list.at === "" ? "" : `/${list.at}`}`,
            message: `a list of ${items}`,
          },
        ],
      );
    }
    const canonical = toCanonical(
      request.result,
      request.format === undefined ? undefined : { format: request.format },
    );
    if (!canonical.ok)
      throw new InvalidResultError(
        `the analysis result has ${canonical.problems.length} problem${canonical.problems.length === 1 ? "" : "s"}`,
        under(`${at}/result`, canonical.problems),
      );
    const contextProblems = ruleset.checkContext(request.context);
    if (contextProblems.length > 0)
      throw new InvalidContextError(
        contextProblems[0]!.message,
        under(`${at}/context`, contextProblems),
      );
    const result = canonical.result;
    const now = this.clock();
    const reviews = this.options.reviews;
    const started = process.hrtime.bigint();
    const exception = reviews?.exceptionFor(result, request.context, now);
    const kase = reviews?.caseFor(result.sha256, request.context, exception !== undefined);
    const decision = ruleset.decide(result, {
      context: request.context,
      now,
      explain: request.explain === true,
      ...(exception === undefined ? {} : { exception }),
      ...(kase === undefined ? {} : { case: kase }),
    });
    const latencyUs = Number(process.hrtime.bigint() - started) / 1000;
    this.metrics.evaluation.observe(latencyUs / 1e6);
    const shadow = this.decideShadow(result, request.context, now, decision, exception, kase);

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
    const record: DecisionRecord = {
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
      // it says whether a person may approve the file: only a `review` is put to people
      approvalForbiddenBy: decision.decision === "review" ? decision.approvalForbiddenBy : [],
      exception: decision.exception,
    };
    const tracked = track ? reviews?.track(record, result, request.context) : undefined;
    if (tracked?.caseId) record.case = tracked.caseId;
    if (!redacting) this.options.observe?.(record, result);
    return {
      record,
      asked: { fileName: result.fileName ?? null, warnings: canonical.warnings ?? [] },
      input: snapshot ? JSON.stringify(snapshot) : rawJson!,
      caseEntry: tracked?.entry ?? null,
    };
  }

  private decideShadow(
    result: Parameters<Ruleset["decide"]>[0],
    context: unknown,
    now: number,
    live: Decision,
    exception: ExceptionInput | undefined,
    kase: CaseInput | undefined,
  ): DecisionRecord["shadow"] {
    if (!this.shadow) return null;
    const ruleset = this.shadow.ruleset;
    try {
      const d = ruleset.decide(result, {
        context,
        now,
        ...(exception === undefined ? {} : { exception }),
        ...(kase === undefined ? {} : { case: kase }),
      });
      if (d.decision !== live.decision)
        this.metrics.shadowDisagreements.inc({ live: live.decision, shadow: d.decision });
      return { decision: d.decision, rule: d.rule, revision: d.revision };
    } catch (error) {
      // the shadow never affects the live answer, not even by failing
      return {
        decision: "error",
        rule: null,
        revision: ruleset.revision,
        error: { code: SHADOW_FAILED, message: (error as Error).message },
      };
    }
  }

  private async record(p: Prepared, deliveryId?: string): Promise<DecisionAnswer> {
    const notify = this.options.notify;
    // an AuditUnavailableError goes to the caller as it is: no decision is given unrecorded
    const decided = this.audit.append(
      p.record,
      p.input,
      notify && notify.length > 0 ? notificationsFor(notify, p.record) : [],
      deliveryId === undefined ? {} : { deliveryId },
    );
    // the case entry right after it, in the same group commit (ids and seqs in the same order);
    // the decision does not wait on its fate
    const caseEntry = p.caseEntry;
    const casePromise = caseEntry
      ? this.audit
          .appendEntry(REVIEW_CASE_KIND, caseEntry.fields, {
            notifications: caseEntry.notifications,
          })
          .then(
            () => this.options.reviews?.tracked(caseEntry),
            (error: unknown) => this.options.reviews?.trackFailed(caseEntry, error),
          )
      : undefined;
    let entry: AuditEntry;
    try {
      entry = await decided;
    } finally {
      await casePromise;
    }
    this.metrics.decisions.inc({
      decision: entry.decision,
      rule: entry.rule ?? "(default)",
      source: entry.source,
    });
    return answerOf(p.record, p.asked);
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
    if (entry.exception != null)
      return {
        explain: null,
        source: "unavailable",
        why: `the entry was decided with exception \`${entry.exception}\` as it stood then; evaluating it again now would not show what was decided`,
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
      // a `review` that opened or joined a case was decided while it was open
      ...(entry.case != null ? { case: { id: entry.case, status: "open" as const } } : {}),
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
export function replayInput(snapshot: {
  result?: unknown;
  format?: unknown;
}): ReturnType<typeof toCanonical> {
  if (INPUT_FORMATS.includes(snapshot.format as InputFormat))
    return toCanonical(snapshot.result, { format: snapshot.format as InputFormat });
  const detected = toCanonical(snapshot.result);
  return detected.ok ? detected : toCanonical(snapshot.result, { format: "canonical" });
}
