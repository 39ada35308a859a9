// Audit entries as SIEM events (docs/siem.md). Every event is made from an entry of the chain, so
// the log is what SIEM delivery reads from, and an event's id is its entry's id. Entries that say
// only part of a story (a case's resolution names its case, an exception's end names its
// exception) are completed from the entries they name, which are read once and kept while hot.

import type { AnalysisResult } from "@clearance/engine";
import type {
  DecisionEvent,
  ExceptionEvent,
  ReviewCaseEvent,
  SiemEvent,
  SiemFile,
  SiemRuleset,
} from "@clearance/siem";
import type { EntryRow } from "./audit/backend.js";
import type { DecisionRecord } from "./audit/entry.js";
import { EXCEPTION_KIND, REVIEW_CASE_KIND, REVIEW_VOTE_KIND } from "./audit/kinds.js";
import type { AuditLog, StoredEntry } from "./audit/log.js";
import { replayInput } from "./decide.js";
import type { ExceptionView } from "./reviews.js";
import { VERSION } from "./version.js";

/** What a `server_event` entry's `detail` holds, by its `event`. */
export type ServerEventDetail =
  | {
      event: "ruleset_loaded";
      ruleset: SiemRuleset;
      previous: string | null;
      rules: number;
      trigger: string;
    }
  | {
      event: "ruleset_failed";
      ruleset: SiemRuleset | null;
      trigger: string;
      code: string;
      message: string;
      location: string | null;
    }
  | { event: "verify_failed"; chain: string; seq: number; problem: string; message: string };

/** How many completed cases, exceptions and file facts are kept for events that name them. */
const HOT = 2_048;
/** How many recent entries the sinks share (`entriesAfter`). */
const WINDOW = 10_000;

/** A map that forgets its oldest keys past a size. */
class Recent<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, value);
  }
}

/** What a decision event tells of its record. */
type DecisionFacts = Pick<
  DecisionRecord,
  | "id"
  | "sha256"
  | "fileName"
  | "decision"
  | "rule"
  | "reason"
  | "matched"
  | "ruleset"
  | "requester"
  | "source"
  | "case"
  | "exception"
  | "approvalForbiddenBy"
>;

interface OpenedCase {
  sha256: string;
  file: SiemFile;
  rule: string | null;
  reason: string;
  requester: string | null;
}

export interface SiemEventSourceOptions {
  /** the console's base URL, for links to entries; null makes events without links */
  consoleUrl: string | null;
}

export class SiemEventSource {
  private readonly cases = new Recent<OpenedCase>(HOT);
  private readonly exceptions = new Recent<ExceptionView>(HOT);
  private readonly files = new Recent<SiemFile>(HOT);
  /** recent decisions and their files' facts, by decision id, as they were decided (`observe`) */
  private readonly decided = new Recent<{ record: DecisionFacts; file: SiemFile }>(HOT * 8);
  /** events already made, by entry id: every sink reads the same entries, most of them hot */
  private readonly made = new Recent<SiemEvent | null>(HOT * 4);
  private readonly product = Object.freeze({ name: "Clearance" as const, version: VERSION });
  private readonly consoleUrl: string | null;
  /** the newest entries read, consecutive in seq (see `entriesAfter`) */
  private window: EntryRow[] = [];
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly audit: AuditLog,
    options: SiemEventSourceOptions,
  ) {
    this.consoleUrl = options.consoleUrl?.replace(/\/+$/, "") ?? null;
  }

  /**
   * Entries of `chain` after `afterSeq`, at most `limit`, in chain order: from the window of recent
   * entries that every sink shares, and from the store past its end. Sinks that keep up read each
   * new entry from the store once between them; a sink far behind reads the store itself.
   */
  async entriesAfter(chain: string, afterSeq: number, limit: number): Promise<EntryRow[]> {
    const read = this.reading.then(() => this.readAfter(chain, afterSeq, limit));
    // one read of the store at a time: a second sink asking for the same new entries finds them
    this.reading = read.then(
      () => {},
      () => {},
    );
    return read;
  }

  private async readAfter(chain: string, afterSeq: number, limit: number): Promise<EntryRow[]> {
    const w = this.window;
    const lo = w.length > 0 ? w[0]!.seq : Number.POSITIVE_INFINITY;
    const hi = w.length > 0 ? w[w.length - 1]!.seq : Number.NEGATIVE_INFINITY;
    const out: EntryRow[] =
      afterSeq >= lo - 1 && afterSeq < hi
        ? w.slice(afterSeq - lo + 1, afterSeq - lo + 1 + limit)
        : [];
    if (out.length === limit) return out;
    const from = out.length > 0 ? out[out.length - 1]!.seq : afterSeq;
    const fresh = await this.consecutive(
      chain,
      from,
      await this.audit.store.entries.chainAfter(chain, from, limit - out.length),
    );
    if (fresh.length > 0) {
      // the window holds consecutive entries only: it grows from its end, or starts again
      if (w.length === 0 || fresh[0]!.seq !== hi + 1) this.window = [...fresh];
      else w.push(...fresh);
      if (this.window.length > WINDOW) this.window.splice(0, this.window.length - WINDOW);
    }
    return out.concat(fresh);
  }

  /**
   * The rows up to the first gap in seq. A chain read is one query per kind's table, not one
   * snapshot: a group commit that lands between two of them can show its review case without the
   * decision before it, and a sink that took that case would pass over the decision for good. A
   * chain's entries are consecutive, so a gap is an entry not read yet: the next read finds it. The
   * one gap allowed is at the start, where a pruned chain begins after its checkpoint.
   */
  private async consecutive(
    chain: string,
    afterSeq: number,
    rows: readonly EntryRow[],
  ): Promise<EntryRow[]> {
    let expected = afterSeq + 1;
    if (rows.length > 0 && rows[0]!.seq !== expected) {
      const checkpoint = await this.audit.store.entries.checkpoint(chain);
      if (checkpoint && afterSeq < checkpoint.seq && rows[0]!.seq === checkpoint.seq + 1)
        expected = rows[0]!.seq;
    }
    let n = 0;
    while (n < rows.length && rows[n]!.seq === expected) {
      n++;
      expected++;
    }
    return rows.slice(0, n);
  }

  /** A decision's result, as it was decided: its file facts, kept while the decision is recent. */
  observe(record: DecisionRecord, result: AnalysisResult): void {
    // what an event reads of the record, not the record: it may hold a large explanation
    const told: DecisionFacts = {
      id: record.id,
      sha256: record.sha256,
      fileName: record.fileName,
      decision: record.decision,
      rule: record.rule,
      reason: record.reason,
      matched: record.matched,
      ruleset: record.ruleset,
      requester: record.requester,
      source: record.source,
      case: record.case,
      exception: record.exception,
      approvalForbiddenBy: record.approvalForbiddenBy,
    };
    this.decided.set(record.id, {
      record: told,
      file: {
        sha256: result.sha256,
        name: result.fileName ?? null,
        size: result.fileSize ?? null,
        contentType: result.contentType ?? null,
        signatureStatus: result.signature?.status ?? null,
        signer: result.signature?.signer ?? null,
        vendor: result.vendor?.name ?? null,
      },
    });
  }

  /**
   * The events of these rows of one chain, in their order; a row of no interest to a SIEM (a
   * shadow-only detail, a kind without events) gives none. Reads what the rows name.
   */
  async eventsOf(rows: readonly EntryRow[]): Promise<{ row: EntryRow; event: SiemEvent }[]> {
    const fresh = rows.filter(
      (r) => this.made.get(r.id) === undefined && this.decided.get(r.id) === undefined,
    );
    await this.loadInputs(fresh);
    const out: { row: EntryRow; event: SiemEvent }[] = [];
    for (const row of rows) {
      let event = this.made.get(row.id);
      if (event === undefined) {
        event = await this.eventOf(row);
        this.made.set(row.id, event);
      }
      if (event) out.push({ row, event });
    }
    return out;
  }

  private base(row: EntryRow, link: string | null) {
    return {
      id: row.id,
      time: row.time,
      entry: { id: row.id, chain: row.chain, seq: row.seq },
      link: link && this.consoleUrl ? `${this.consoleUrl}/${link}` : null,
      product: this.product,
    };
  }

  private async eventOf(row: EntryRow): Promise<SiemEvent | null> {
    // a decision this process just made is in memory as it was recorded: no need to parse it back
    const recent = row.kind === "decision" ? this.decided.get(row.id) : undefined;
    if (recent) return this.decisionEvent(row, recent.record);
    const body = JSON.parse(row.body) as Record<string, unknown>;
    switch (row.kind) {
      case "decision":
        return this.decisionEvent(row, body as unknown as DecisionRecord);
      case "review_case":
        return this.caseEvent(row, body);
      case "review_vote": {
        const opened = await this.openedCase(body.caseId as string);
        return {
          ...this.base(row, `#/reviews/${encodeURIComponent(body.caseId as string)}`),
          kind: "review.vote",
          caseId: body.caseId as string,
          sha256: opened?.sha256 ?? "",
          voter: body.voter as string,
          vote: body.vote as "approve" | "reject",
          justification: body.justification as string,
        };
      }
      case "exception":
        return this.exceptionEvent(row, body);
      case "server_event":
        return this.serverEvent(row, body.detail as ServerEventDetail);
      default:
        return null;
    }
  }

  private decisionEvent(row: EntryRow, record: DecisionFacts): DecisionEvent {
    const file =
      this.decided.get(record.id)?.file ??
      this.files.get(row.inputHash ?? "") ??
      bareFile(record.sha256, record.fileName);
    // one literal of one shape: every decision event is made here, many thousands a second
    return {
      id: row.id,
      kind: "decision",
      time: row.time,
      entry: { id: row.id, chain: row.chain, seq: row.seq },
      link: this.consoleUrl === null ? null : `${this.consoleUrl}/#/audit/${row.id}`,
      product: this.product,
      decision: record.decision,
      rule: record.rule,
      reason: record.reason,
      matched: record.matched,
      ruleset: { revision: record.ruleset.revision, commit: record.ruleset.commit },
      requester: record.requester,
      source: record.source,
      file: {
        sha256: record.sha256,
        name: record.fileName ?? file.name,
        size: file.size,
        contentType: file.contentType,
        signatureStatus: file.signatureStatus,
        signer: file.signer,
        vendor: file.vendor,
      },
      caseId: record.case ?? null,
      exceptionId: record.exception ?? null,
      approvalForbiddenBy: record.approvalForbiddenBy ?? [],
    };
  }

  private async caseEvent(
    row: EntryRow,
    body: Record<string, unknown>,
  ): Promise<ReviewCaseEvent | null> {
    const caseId = body.caseId as string;
    const detail = (body.detail ?? {}) as Record<string, unknown>;
    if (body.event === "opened") {
      const opened = await this.caseFromOpening(body);
      this.cases.set(caseId, opened);
      return { ...this.caseBase(row, caseId, opened), kind: "review.opened" };
    }
    const opened = await this.openedCase(caseId);
    const fallback: OpenedCase = {
      sha256: body.sha256 as string,
      file: bareFile(body.sha256 as string, null),
      rule: null,
      reason: "",
      requester: null,
    };
    const known = opened ?? fallback;
    switch (body.event) {
      case "resolved": {
        const voteIds = (detail.votes ?? []) as string[];
        return {
          ...this.caseBase(row, caseId, known),
          kind: "review.resolved",
          outcome: detail.outcome as "approved" | "rejected",
          exceptionId: (detail.exception as string | null) ?? null,
          voters: await this.voters(caseId, voteIds),
        };
      }
      case "withdrawn":
        return { ...this.caseBase(row, caseId, known), kind: "review.withdrawn" };
      case "expired":
        return { ...this.caseBase(row, caseId, known), kind: "review.expired" };
      default:
        return null;
    }
  }

  private caseBase(row: EntryRow, caseId: string, opened: OpenedCase) {
    return {
      ...this.base(row, `#/reviews/${encodeURIComponent(caseId)}`),
      caseId,
      file: opened.file,
      rule: opened.rule,
      reason: opened.reason,
      requester: opened.requester,
      outcome: null,
      exceptionId: null,
      voters: [] as string[],
    };
  }

  private async caseFromOpening(body: Record<string, unknown>): Promise<OpenedCase> {
    const detail = body.detail as {
      decisionId: string;
      fileName: string | null;
      rule: string | null;
      reason: string;
      requester: string | null;
    };
    const sha256 = body.sha256 as string;
    // the opening decision is written in the same commit, just before: its facts are hot
    const decision = await this.audit.store.entries.get(detail.decisionId).catch(() => undefined);
    if (decision) await this.loadHashes([decision.inputHash]);
    const facts = decision ? this.files.get(decision.inputHash) : undefined;
    return {
      sha256,
      file: facts
        ? { ...facts, name: detail.fileName ?? facts.name }
        : bareFile(sha256, detail.fileName),
      rule: detail.rule,
      reason: detail.reason,
      requester: detail.requester,
    };
  }

  private async openedCase(caseId: string): Promise<OpenedCase | undefined> {
    const hot = this.cases.get(caseId);
    if (hot) return hot;
    const rows = await this.audit.entriesOf(REVIEW_CASE_KIND, {
      field: "caseId",
      value: caseId,
      limit: 10,
    });
    const opening = rows.find((r) => r.event === "opened");
    if (!opening) return undefined;
    const opened = await this.caseFromOpening(opening);
    this.cases.set(caseId, opened);
    return opened;
  }

  private async voters(caseId: string, voteIds: readonly string[]): Promise<string[]> {
    const votes = await this.audit.entriesOf(REVIEW_VOTE_KIND, {
      field: "caseId",
      value: caseId,
      limit: 1_000,
    });
    const wanted = new Set(voteIds);
    return votes.filter((v) => wanted.has(v.id)).map((v) => v.voter as string);
  }

  private async exceptionEvent(
    row: EntryRow,
    body: Record<string, unknown>,
  ): Promise<ExceptionEvent | null> {
    const exceptionId = body.exceptionId as string;
    const event = body.event as "created" | "revoked" | "expired";
    let view = body.record as ExceptionView | null;
    if (view) this.exceptions.set(exceptionId, view);
    else view = (await this.exceptionRecord(exceptionId)) ?? null;
    if (!view) return null;
    const by = body.by as string | null;
    return {
      ...this.base(row, `#/exceptions/${encodeURIComponent(exceptionId)}`),
      kind: `exception.${event}`,
      exceptionId,
      status: view.status,
      scope: scopeOf(view.scope),
      expires: view.expires,
      actors:
        event === "created"
          ? view.approvers.length > 0
            ? view.approvers
            : by
              ? [by]
              : []
          : by
            ? [by]
            : [],
      justification: (body.justification as string | null) ?? null,
      caseId: view.case,
    };
  }

  private async exceptionRecord(exceptionId: string): Promise<ExceptionView | undefined> {
    const hot = this.exceptions.get(exceptionId);
    if (hot) return hot;
    const rows: StoredEntry[] = await this.audit.entriesOf(EXCEPTION_KIND, {
      field: "exceptionId",
      value: exceptionId,
      limit: 10,
    });
    const created = rows.find((r) => r.event === "created");
    const view = created?.record as ExceptionView | undefined;
    if (view) this.exceptions.set(exceptionId, view);
    return view;
  }

  private serverEvent(row: EntryRow, detail: ServerEventDetail): SiemEvent | null {
    switch (detail.event) {
      case "ruleset_loaded":
        return {
          ...this.base(row, "#/rules"),
          kind: "ruleset.loaded",
          ruleset: detail.ruleset,
          previous: detail.previous,
          rules: detail.rules,
          trigger: detail.trigger,
        };
      case "ruleset_failed":
        return {
          ...this.base(row, "#/rules"),
          kind: "ruleset.failed",
          ruleset: detail.ruleset,
          trigger: detail.trigger,
          code: detail.code,
          message: detail.message,
          location: detail.location,
        };
      case "verify_failed":
        return {
          ...this.base(row, null),
          kind: "audit.verify_failed",
          chain: detail.chain,
          seq: detail.seq,
          problem: detail.problem,
          message: detail.message,
        };
      default:
        return null;
    }
  }

  /** Reads the input snapshots of the rows' decisions not yet known, in one read. */
  private loadInputs(rows: readonly EntryRow[]): Promise<void> {
    return this.loadHashes(rows.filter((r) => r.kind === "decision").map((r) => r.inputHash));
  }

  private async loadHashes(hashes: readonly (string | null)[]): Promise<void> {
    const wanted = new Set<string>();
    for (const hash of hashes) if (hash && !this.files.get(hash)) wanted.add(hash);
    if (wanted.size === 0) return;
    const inputs = await this.audit.store.entries.inputs([...wanted]);
    for (const [hash, text] of inputs) this.files.set(hash, fileFacts(text));
  }
}

function bareFile(sha256: string, name: string | null): SiemFile {
  return {
    sha256,
    name,
    size: null,
    contentType: null,
    signatureStatus: null,
    signer: null,
    vendor: null,
  };
}

/** The file facts of a stored input snapshot, as it was decided; none when it no longer maps. */
function fileFacts(snapshot: string): SiemFile {
  try {
    const parsed = JSON.parse(snapshot) as { result?: unknown; format?: unknown };
    // a canonical result was checked when it was decided: its fields are read as they are; other
    // formats (the platform's, VirusTotal's) are mapped again as the decision mapped them
    if (parsed.format === "canonical" && isObject(parsed.result))
      return canonicalFacts(parsed.result);
    const mapped = replayInput(parsed);
    if (!mapped.ok) return bareFile("", null);
    const r = mapped.result;
    return {
      sha256: r.sha256,
      name: r.fileName ?? null,
      size: r.fileSize ?? null,
      contentType: r.contentType ?? null,
      signatureStatus: r.signature?.status ?? null,
      signer: r.signature?.signer ?? null,
      vendor: r.vendor?.name ?? null,
    };
  } catch {
    return bareFile("", null);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function canonicalFacts(r: Record<string, unknown>): SiemFile {
  const text = (v: unknown) => (typeof v === "string" ? v : null);
  const signature = isObject(r.signature) ? r.signature : {};
  const vendor = isObject(r.vendor) ? r.vendor : {};
  return {
    sha256: text(r.sha256) ?? "",
    name: text(r.fileName),
    size: typeof r.fileSize === "number" ? r.fileSize : null,
    contentType: text(r.contentType),
    signatureStatus: text(signature.status),
    signer: text(signature.signer),
    vendor: text(vendor.name),
  };
}

function scopeOf(scope: ExceptionView["scope"]): ExceptionEvent["scope"] {
  if ("sha256" in scope) return { kind: "file", value: scope.sha256 };
  if ("signer" in scope) return { kind: "signer", value: scope.signer };
  return { kind: "vendor", value: `${scope.vendor} / ${scope.product}` };
}
