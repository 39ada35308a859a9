// Review cases, votes and exceptions (docs/reviews.md). Everything here is entries in the audit
// log (`kinds.ts`): a case is opened, resolved, withdrawn or expired by an entry, a vote is an
// entry, an exception is created, revoked or expires by an entry. The service keeps what deciding
// needs in memory (the open cases and the exceptions in force) and reads everything else from the
// log, so that every replica on one PostgreSQL log answers alike: each event that must happen once
// (a vote per voter, a case's closing, a case's exception) carries a `once` key that a unique
// index keeps to one entry across replicas, and votes are counted from the log after each vote is
// committed, so the last of two concurrent voters always sees both.

import { parseDuration } from "@clearance/dsl";
import {
  type CaseInput,
  type ExceptionInput,
  type ExceptionRecord,
  type ExceptionScope,
  ExceptionSet,
} from "@clearance/engine";
import { AuditUnavailableError } from "./audit/backend.js";
import type { DecisionRecord } from "./audit/entry.js";
import { idFloor, idTime, newId } from "./audit/ids.js";
import {
  type EntryKind,
  EXCEPTION_KIND,
  REVIEW_CASE_KIND,
  REVIEW_VOTE_KIND,
} from "./audit/kinds.js";
import type { AuditLog } from "./audit/log.js";
import type { Notification } from "./audit/seal.js";
import type { ServerConfig } from "./config.js";
import {
  AlreadyVotedError,
  ApprovalForbiddenError,
  CaseClosedError,
  ExceptionEndedError,
  InvalidReviewError,
  NotFoundError,
  ReviewsDisabledError,
  SelfApprovalError,
} from "./errors.js";
import type { Metrics } from "./metrics.js";
import { PERSON_PREFIX } from "./session.js";
import type { ExceptionBody, RevokeBody, VoteBody } from "./wire.js";

export type ReviewConfig = ServerConfig["reviews"];

/**
 * The outbox target of re-decisions. It is no URL: the server handles it itself, after the entry
 * that queued it is committed, and again after a restart until it is done. No configured target
 * id can take this name.
 */
export const REDECIDE_TARGET = "@redecide";

/** What a re-decision needs: the file, the decision whose input to decide again, and why. */
export interface Redecision {
  sha256: string;
  /** the decision whose input snapshot is decided again; null for the file's latest */
  decisionId: string | null;
  why: string;
  /** the exception whose creation or end asks for it */
  exceptionId?: string;
}

/** Decides a file again from a recorded input and records it (the decision service). */
export type Redecider = (
  r: Redecision,
  deliveryId: string,
  /** record nothing when the file is still decided this */
  unlessStill?: "review",
) => Promise<DecisionRecord | null>;

type CaseStatus = "open" | "resolved" | "withdrawn" | "expired";
type ExceptionKind = "file" | "signer" | "vendor";

/** What an `opened` entry records beside the file: the decision that opened the case. */
interface OpenedDetail {
  decisionId: string;
  fileName: string | null;
  rule: string | null;
  reason: string;
  requester: string | null;
  /** the request-context fields that scope the case (`reviews.caseScope`) */
  context: Record<string, string>;
  approvalForbiddenBy: string[];
  expires: string;
  /** the thumbprint of a valid signature: what a signer exception would cover */
  signer: string | null;
  /** the vendor and product: what a vendor exception would cover */
  vendor: { name: string; product: string } | null;
}

/** `GET /v1/reviews/policy`: the `reviews` configuration a reviewer votes under. */
export interface ReviewPolicyView {
  approvalsRequired: number;
  broaderScopeApprovals: number;
  rejectionVetoes: boolean;
  selfApproval: boolean;
  caseExpiry: string;
  exceptionExpiry: {
    default: string;
    defaultMs: number;
    max: string;
    maxMs: number;
    allowNoExpiry: boolean;
  };
}

export interface VoteView {
  id: string;
  time: string;
  caseId: string;
  voter: string;
  vote: "approve" | "reject";
  justification: string;
  exception: { kind: ExceptionKind; expires: string | null } | null;
}

export interface CaseEvent {
  id: string;
  time: string;
  event: CaseStatus | "opened";
  detail: Record<string, unknown>;
}

/** A case as the API shows it. */
export interface CaseView extends Omit<OpenedDetail, "expires"> {
  id: string;
  sha256: string;
  status: CaseStatus;
  opened: string;
  expires: string;
  closed: string | null;
  /** `approved` or `rejected` for a resolved case */
  outcome: "approved" | "rejected" | null;
  /** the exception a resolved case yielded */
  exception: string | null;
  votes: VoteView[];
  /** what the votes so far still need, for an open case */
  waitingFor: string | null;
  history: CaseEvent[];
}

export interface ExceptionView {
  id: string;
  status: "approved" | "rejected";
  kind: ExceptionKind;
  scope: ExceptionScope;
  context: Record<string, string> | null;
  created: string;
  expires: string | null;
  approvers: string[];
  justification: string;
  case: string | null;
  createdBy: string | null;
  state: "active" | "revoked" | "expired";
  ended: { time: string; by: string | null; justification: string | null } | null;
}

/** A case held in memory while it is open. */
interface LiveCase {
  id: string;
  sha256: string;
  scope: string;
  opened: number;
  expires: number;
  detail: OpenedDetail;
  requests: number;
  votes: Map<string, VoteView>;
  /** its opening entry is in the log: until then requests join it, but nobody lists or votes */
  committed: boolean;
}

/** The newest case of a file and scope, open or closed: what `case.*` reads. */
interface LatestCase {
  id: string;
  status: CaseStatus;
  opened: number;
  requests: number;
}

export interface VoteOutcome {
  vote: VoteView;
  /** the vote was recorded before (the same vote sent again) */
  replayed: boolean;
  case: CaseView;
  /** the exception the case yielded, when this vote resolved it */
  exception: ExceptionView | null;
  /** the file's decision after the case was resolved (recorded, source `review`) */
  decision: DecisionRecord | null;
}

/**
 * Who acts: the API key, the signed-in person (`user:<name>`), or on an open server (no keys, no
 * sign-in) the name the person gave.
 */
export interface Actor {
  /** the request's authenticated identity (a key id, or `user:<name>`); null on an open server */
  key: string | null;
  /** the name given in the body (`voter`, `by`), if any */
  named?: string | undefined;
}

/** How long the log is read back past the newest entry seen, for other replicas' entries. */
const OVERLAP_MS = 60_000;
/** Entries read at a time when loading. */
const LOAD_PAGE = 1_000;
/** Exceptions expiring within this are counted as expiring soon. */
const SOON_MS = 7 * 86_400_000;
const KINDS: readonly ExceptionKind[] = ["file", "signer", "vendor"];

function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new TypeError(`\`${text}\` is not a duration`);
  return ms;
}

function kindOf(scope: ExceptionScope): ExceptionKind {
  return "sha256" in scope ? "file" : "signer" in scope ? "signer" : "vendor";
}

/**
 * The service behind `/v1/reviews` and `/v1/exceptions`, and what deciding reads of reviews: the
 * exception that applies to a file and the file's case. Create with `ReviewService.open`.
 */
export class ReviewService {
  private readonly open = new Map<string, LiveCase>();
  private readonly openById = new Map<string, LiveCase>();
  private readonly latest = new Map<string, LatestCase>();
  private readonly exceptions = new Map<string, ExceptionView>();
  /** exceptions revoked or expired: an overlapping read must not bring one back */
  private readonly ended = new Set<string>();
  /** entries applied lately (id → id time), so that reading the overlap again changes nothing */
  private readonly seen = new Map<string, number>();
  private newestSeen = 0;
  private set: ExceptionSet | null = null;
  private fileExceptions: () => readonly ExceptionRecord[] = () => [];
  /** the file exceptions `set` was built with: another array (a reload) builds it again */
  private setFile: readonly ExceptionRecord[] = [];
  private redecider: Redecider | null = null;
  private readonly redeciding = new Map<string, Promise<DecisionRecord | null>>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private readonly caseExpiryMs: number;
  private readonly defaultExpiryMs: number;
  private readonly maxExpiryMs: number;

  private constructor(
    private readonly audit: AuditLog,
    readonly config: ReviewConfig,
    private readonly metrics: Metrics,
    private readonly clock: () => number,
  ) {
    this.caseExpiryMs = durationMs(config.caseExpiry);
    this.defaultExpiryMs = durationMs(config.exceptionExpiry.default);
    this.maxExpiryMs = durationMs(config.exceptionExpiry.max);
    metrics.reviewStats = () => this.stats();
  }

  /** Reads every case, vote and exception in the log into memory. */
  static async open(
    audit: AuditLog,
    config: ReviewConfig,
    metrics: Metrics,
    options: {
      clock?: () => number;
      /** the exceptions the live rule directory keeps (`exceptions.json`), read at each decision */
      fileExceptions?: () => readonly ExceptionRecord[];
    } = {},
  ): Promise<ReviewService> {
    const service = new ReviewService(audit, config, metrics, options.clock ?? Date.now);
    if (options.fileExceptions) service.fileExceptions = options.fileExceptions;
    await service.refresh(true);
    return service;
  }

  /**
   * The voting policy as reviewers need it to vote: what resolves a case, and the expiries an
   * approval may ask for (durations as configured, and in milliseconds for a client to bound a date).
   */
  policy(): ReviewPolicyView {
    this.enabled();
    const c = this.config;
    return {
      approvalsRequired: c.approvalsRequired,
      broaderScopeApprovals: c.broaderScopeApprovals,
      rejectionVetoes: c.rejectionVetoes,
      selfApproval: c.selfApproval,
      caseExpiry: c.caseExpiry,
      exceptionExpiry: {
        default: c.exceptionExpiry.default,
        defaultMs: this.defaultExpiryMs,
        max: c.exceptionExpiry.max,
        maxMs: this.maxExpiryMs,
        allowNoExpiry: c.exceptionExpiry.allowNoExpiry,
      },
    };
  }

  /** Who decides files again after a case is resolved or an exception ends. */
  setRedecider(redecider: Redecider): void {
    this.redecider = redecider;
  }

  /** told of failures the outbox will retry (a re-decision), and of failed sweeps */
  private onError: (error: Error) => void = () => {};

  /** Closes expired cases and exceptions and reads other replicas' entries, every `sweepIntervalMs`. */
  start(onError: (error: Error) => void): void {
    this.onError = onError;
    const tick = () => {
      this.sweeping = this.sweep()
        .then(() => {}, onError)
        .finally(() => {
          this.sweeping = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.config.sweepIntervalMs);
          this.timer?.unref();
        });
    };
    this.timer = setTimeout(tick, this.config.sweepIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  get now(): number {
    return this.clock();
  }

  // ---- what deciding reads ---------------------------------------------------------------

  /** The exception that applies to a result asked with `context` at `now` (`ExceptionSet.find`). */
  exceptionFor(
    result: Readonly<Record<string, unknown>>,
    context: unknown,
    now: number,
  ): ExceptionInput | undefined {
    const file = this.fileExceptions();
    if (this.exceptions.size === 0 && file.length === 0) return undefined;
    if (file !== this.setFile) {
      this.setFile = file;
      this.set = null;
    }
    if (this.set === null) {
      // the log's, and the rule directory's (an exported exception may be in both: the log's wins)
      const records = [...this.exceptions.values()].map(recordOf);
      for (const r of file) if (!this.exceptions.has(r.id)) records.push(r);
      this.set = new ExceptionSet(records, { allowNoExpiry: true });
    }
    return this.set.find(result, context, now);
  }

  /**
   * The file's case as `case.*` reads it: its open case, or its newest case when that expired
   * unanswered (and no exception answers the file since).
   */
  caseFor(sha256: string, context: unknown, answered: boolean): CaseInput | undefined {
    if (!this.config.enabled) return undefined;
    const key = caseKey(sha256, this.scopeOf(context));
    const live = this.open.get(key);
    if (live)
      return {
        id: live.id,
        status: "open",
        opened: new Date(live.opened).toISOString(),
        requests: live.requests,
      };
    const last = this.latest.get(key);
    if (last?.status === "expired" && !answered)
      return {
        id: last.id,
        status: "expired",
        opened: new Date(last.opened).toISOString(),
        requests: last.requests,
      };
    return undefined;
  }

  /**
   * What a decision does to the file's case: a `review` opens one, or joins the open one (no entry:
   * the decision names the case); any other decision withdraws the open one. Returns the case the
   * decision names and the entry to append with it.
   */
  track(
    record: DecisionRecord,
    result: Readonly<Record<string, unknown>>,
    context: unknown,
  ): { caseId: string | null; entry: CaseEntry | null } {
    if (!this.config.enabled) return { caseId: null, entry: null };
    const scope = this.scopeOf(context);
    const key = caseKey(record.sha256, scope);
    const live = this.open.get(key);
    if (record.decision === "review") {
      if (live) {
        live.requests++;
        return { caseId: live.id, entry: null };
      }
      const now = Date.parse(record.time);
      const id = newId(now);
      const detail: OpenedDetail = {
        decisionId: record.id,
        fileName: record.fileName,
        rule: record.rule,
        reason: record.reason,
        requester: record.requester,
        context: scopeFields(scope),
        approvalForbiddenBy: record.approvalForbiddenBy ?? [],
        expires: new Date(now + this.caseExpiryMs).toISOString(),
        signer: signerOf(result),
        vendor: vendorOf(result),
      };
      const opened: LiveCase = {
        id,
        sha256: record.sha256,
        scope,
        opened: now,
        expires: now + this.caseExpiryMs,
        detail,
        requests: 1,
        votes: new Map(),
        committed: false,
      };
      const previous = this.latest.get(key);
      this.addOpen(opened);
      return {
        caseId: id,
        entry: {
          fields: {
            id,
            time: record.time,
            event: "opened",
            caseId: id,
            sha256: record.sha256,
            scope,
            once: `case-open:${key}:${previous?.id ?? "first"}`,
            detail,
          },
          notifications: [],
        },
      };
    }
    if (!live) return { caseId: null, entry: null };
    // the file is no longer `review`: its analysis or the rules changed, or an exception answers it
    this.close(live, "withdrawn");
    return {
      caseId: null,
      entry: {
        fields: {
          id: newId(Date.parse(record.time)),
          time: record.time,
          event: "withdrawn",
          caseId: live.id,
          sha256: live.sha256,
          scope: live.scope,
          once: `case-close:${live.id}`,
          detail: {
            decisionId: record.id,
            decision: record.decision,
            rule: record.rule,
            why: `the file is now decided \`${record.decision}\`${record.rule ? ` by rule \`${record.rule}\`` : ""}`,
          },
        },
        notifications: [],
      },
    };
  }

  /** The case entry `track` gave could not be written: memory follows the log. */
  async trackFailed(entry: CaseEntry, error: unknown): Promise<void> {
    const f = entry.fields;
    if (f.event === "opened") {
      const live = this.openById.get(f.caseId);
      if (live) this.drop(live);
    }
    // another replica wrote the same event first: read what it wrote
    if (error instanceof AuditUnavailableError && error.scope === "entry")
      // all of the file's case entries again, even those seen: one of them may have been passed
      // over while this replica's own attempt held the file's place
      await this.readKind(REVIEW_CASE_KIND, {
        field: "sha256",
        value: f.sha256,
        force: true,
      }).catch(() => {});
  }

  /** An entry of `track` was written: it is the log's now, and applied. */
  tracked(entry: CaseEntry): void {
    this.markSeen(entry.fields.id);
    const live = this.openById.get(entry.fields.caseId);
    if (live) live.committed = true;
    if (entry.fields.event !== "opened") this.metrics.casesClosed.inc({ outcome: "withdrawn" });
  }

  // ---- votes -----------------------------------------------------------------------------

  /**
   * Records a vote, and resolves the case when the votes reach the policy: the case's exception is
   * created and the file decided again. A vote sent again is answered as recorded.
   */
  async vote(caseId: string, body: VoteBody, actor: Actor): Promise<VoteOutcome> {
    this.enabled();
    const voter = this.actorName(actor, "voter");
    let kase = await this.readCase(caseId);
    const earlier = kase.votes.find((v) => v.voter === voter);
    if (earlier) return this.replayed(earlier, body, kase);
    if (kase.status !== "open")
      throw new CaseClosedError(
        `review case \`${caseId}\` is ${kase.status}${kase.closed ? ` since ${kase.closed}` : ""}: it takes no more votes`,
      );
    const justification = justificationOf(body.justification, "a vote");
    const request = body.exception ?? {};
    const kind: ExceptionKind = request.kind ?? "file";
    if (body.vote === "approve") {
      if (kase.approvalForbiddenBy.length > 0)
        throw new ApprovalForbiddenError(
          `the decision on \`${kase.sha256}\` matched ${listNames(kase.approvalForbiddenBy)}, which ${kase.approvalForbiddenBy.length === 1 ? "forbids" : "forbid"} approving it: it can only be rejected`,
        );
      if (!this.config.selfApproval && actor.key !== null && (await this.asked(kase, actor.key)))
        throw new SelfApprovalError(
          `\`${actor.key}\` asked about \`${kase.sha256}\` itself, so it cannot approve it (\`reviews.selfApproval\` is false)`,
        );
    } else if (kind !== "file")
      throw new InvalidReviewError("a rejection blocks the file only", [
        {
          pointer: "/exception/kind",
          message: `must be \`file\` for a rejection, not \`${kind}\``,
        },
      ]);
    if (kind === "signer" && kase.signer === null)
      throw new InvalidReviewError("the file has no valid signature to scope an exception to", [
        { pointer: "/exception/kind", message: "`signer` needs a file with a valid signature" },
      ]);
    if (kind === "vendor" && kase.vendor === null)
      throw new InvalidReviewError(
        "the file names no vendor and product to scope an exception to",
        [
          {
            pointer: "/exception/kind",
            message: "`vendor` needs a file with a vendor and product",
          },
        ],
      );
    const now = this.clock();
    const expires = this.expiryOf(request.expires, now, "/exception/expires");
    const time = new Date(now).toISOString();
    const vote: VoteView = {
      id: newId(now),
      time,
      caseId,
      voter,
      vote: body.vote,
      justification,
      exception:
        body.vote === "approve" || request.expires !== undefined ? { kind, expires } : null,
    };
    try {
      await this.audit.appendEntry(REVIEW_VOTE_KIND, {
        ...vote,
        once: `vote:${caseId}:${voter}`,
      });
    } catch (error) {
      if (!(error instanceof AuditUnavailableError && error.scope === "entry")) throw error;
      // the same voter at the same time, elsewhere: answer as the log has it
      kase = await this.readCase(caseId);
      const recorded = kase.votes.find((v) => v.voter === voter);
      if (recorded) return this.replayed(recorded, body, kase);
      throw error;
    }
    this.markSeen(vote.id);
    this.metrics.votes.inc({ vote: vote.vote });
    this.openById.get(caseId)?.votes.set(voter, vote);
    // counted from the log, after this vote is committed: of two concurrent voters, the later sees both
    kase = await this.readCase(caseId);
    const verdict = tally(kase.votes, this.config);
    if (!("outcome" in verdict) || kase.status !== "open")
      return { vote, replayed: false, case: kase, exception: null, decision: null };
    return this.resolve(kase, vote, verdict);
  }

  private replayed(earlier: VoteView, body: VoteBody, kase: CaseView): VoteOutcome {
    if (earlier.vote !== body.vote || earlier.justification !== body.justification.trim())
      throw new AlreadyVotedError(
        `\`${earlier.voter}\` voted \`${earlier.vote}\` on review case \`${kase.id}\` at ${earlier.time}; a vote cannot be changed`,
      );
    const exception =
      kase.exception === null ? null : (this.exceptions.get(kase.exception) ?? null);
    return { vote: earlier, replayed: true, case: kase, exception, decision: null };
  }

  /** Closes a case the votes resolved: the case's entry, its exception's, then the re-decision. */
  private async resolve(
    kase: CaseView,
    vote: VoteView,
    verdict: { outcome: "approved" | "rejected"; kind: ExceptionKind; voters: VoteView[] },
  ): Promise<VoteOutcome> {
    const now = this.clock();
    const time = new Date(now).toISOString();
    // ids in the order the entries are appended: the case's closing, then its exception
    const closingId = newId(now);
    const exceptionId = newId(now);
    const expiries = verdict.voters.map((v) => v.exception?.expires).filter((e) => e !== undefined);
    // the earliest any of the deciding voters asked for; never-expiring only when all asked so
    const definite = expiries.filter((e) => e !== null).sort();
    const expires =
      expiries.length === 0
        ? new Date(now + this.defaultExpiryMs).toISOString()
        : (definite[0] ?? null);
    const exception: ExceptionView = {
      id: exceptionId,
      status: verdict.outcome,
      kind: verdict.kind,
      scope:
        verdict.kind === "signer"
          ? { signer: kase.signer! }
          : verdict.kind === "vendor"
            ? { vendor: kase.vendor!.name, product: kase.vendor!.product }
            : { sha256: kase.sha256 },
      context: Object.keys(kase.context).length > 0 ? kase.context : null,
      created: time,
      expires,
      approvers: verdict.voters.map((v) => v.voter),
      justification: verdict.voters.map((v) => `${v.voter}: ${v.justification}`).join("; "),
      case: kase.id,
      createdBy: null,
      state: "active",
      ended: null,
    };
    const closing = {
      id: closingId,
      time,
      event: "resolved",
      caseId: kase.id,
      sha256: kase.sha256,
      scope: scopeKey(kase.context),
      once: `case-close:${kase.id}`,
      detail: {
        outcome: verdict.outcome,
        exception: exceptionId,
        votes: verdict.voters.map((v) => v.id),
      },
    };
    const created = this.exceptionEntry(exception, `exception:${kase.id}`, {
      sha256: kase.sha256,
      decisionId: kase.decisionId,
      why: `review case ${kase.id} was ${verdict.outcome}`,
      exceptionId,
    });
    // both in one group commit; each once: a second replica resolving the same case writes neither
    const [closed, made] = await Promise.allSettled([
      this.audit.appendEntry(REVIEW_CASE_KIND, closing),
      this.audit.appendEntry(EXCEPTION_KIND, created.fields, {
        notifications: created.notifications,
      }),
    ]);
    if (closed.status === "fulfilled") {
      this.markSeen(closing.id);
      const live = this.openById.get(kase.id);
      if (live) this.close(live, "resolved");
      this.metrics.casesClosed.inc({ outcome: verdict.outcome });
    }
    if (made.status === "fulfilled") {
      this.markSeen(created.fields.id);
      this.addException(exception);
    }
    const failed = [closed, made].find(
      (s): s is PromiseRejectedResult =>
        s.status === "rejected" &&
        !(s.reason instanceof AuditUnavailableError && s.reason.scope === "entry"),
    );
    if (failed) throw failed.reason;
    const after = await this.readCase(kase.id);
    if (made.status !== "fulfilled")
      // another replica resolved it: its exception, as the log has it
      return {
        vote,
        replayed: false,
        case: after,
        exception: after.exception ? ((await this.readException(after.exception)) ?? null) : null,
        decision: null,
      };
    // the resolution is recorded: a re-decision that fails now is the outbox's to do again
    const decision = await this.redecideNow(created.fields.id, created.redecision).catch(
      (error: unknown) => {
        this.onError(error as Error);
        return null;
      },
    );
    return { vote, replayed: false, case: after, exception, decision };
  }

  /** Whether `key` asked about the case's file while the case was open. */
  private async asked(kase: CaseView, key: string): Promise<boolean> {
    if (kase.requester === key) return true;
    const { entries } = await this.audit.query(
      { sha256: kase.sha256, requester: key, from: kase.opened },
      500,
    );
    return entries.some((r) => r.case === kase.id);
  }

  // ---- exceptions ------------------------------------------------------------------------

  /** Creates an exception directly (an admin, with a justification); the file is decided again. */
  async createException(body: ExceptionBody, actor: Actor): Promise<ExceptionView> {
    this.enabled();
    const by = this.actorName(actor, "by");
    const justification = justificationOf(body.justification, "an exception");
    const now = this.clock();
    const id = newId(now);
    const scope = normalScope(body.scope);
    const exception: ExceptionView = {
      id,
      status: body.status,
      kind: kindOf(scope),
      scope,
      context: body.context && Object.keys(body.context).length > 0 ? { ...body.context } : null,
      created: new Date(now).toISOString(),
      expires: this.expiryOf(body.expires, now, "/expires"),
      approvers: [by],
      justification,
      case: null,
      createdBy: by,
      state: "active",
      ended: null,
    };
    // checked as deciding will read it, before anything is written
    new ExceptionSet([recordOf(exception)], { allowNoExpiry: true });
    const created = this.exceptionEntry(
      exception,
      `exception:${id}`,
      "sha256" in scope
        ? {
            sha256: scope.sha256,
            decisionId: null,
            why: `exception ${id} was created`,
            exceptionId: id,
          }
        : null,
    );
    await this.audit.appendEntry(EXCEPTION_KIND, created.fields, {
      notifications: created.notifications,
    });
    this.markSeen(id);
    this.addException(exception);
    if (created.redecision)
      await this.redecideNow(id, created.redecision).catch((e: unknown) =>
        this.onError(e as Error),
      );
    return exception;
  }

  /** Ends an exception before it expires; the file is decided again without it. */
  async revokeException(id: string, body: RevokeBody, actor: Actor): Promise<ExceptionView> {
    this.enabled();
    const by = this.actorName(actor, "by");
    const justification = justificationOf(body.justification, "a revocation");
    const exception = await this.readException(id);
    if (!exception) throw new NotFoundError(`no exception \`${id}\` is recorded`);
    if (exception.state !== "active")
      throw new ExceptionEndedError(
        `exception \`${id}\` was ${exception.state} at ${exception.ended?.time ?? "an earlier time"}`,
      );
    const ended = await this.endException(exception, "revoked", by, justification);
    if (!ended) {
      const now = await this.readException(id);
      throw new ExceptionEndedError(
        `exception \`${id}\` was ${now?.state ?? "ended"} at ${now?.ended?.time ?? "the same time"} by another request`,
      );
    }
    return ended;
  }

  /** Writes an exception's end (once); null when another request ended it first. */
  private async endException(
    exception: ExceptionView,
    how: "revoked" | "expired",
    by: string | null,
    justification: string | null,
  ): Promise<ExceptionView | null> {
    const now = this.clock();
    const time = new Date(now).toISOString();
    const entryId = newId(now);
    const redecision: Redecision | null =
      "sha256" in exception.scope
        ? {
            sha256: exception.scope.sha256,
            decisionId: null,
            why: `exception ${exception.id} ${how}`,
            exceptionId: exception.id,
          }
        : null;
    try {
      await this.audit.appendEntry(
        EXCEPTION_KIND,
        {
          id: entryId,
          time,
          event: how,
          exceptionId: exception.id,
          record: null,
          by,
          justification,
          once: `exception-end:${exception.id}`,
        },
        { notifications: redecision ? [redecisionNote(redecision)] : [] },
      );
    } catch (error) {
      if (error instanceof AuditUnavailableError && error.scope === "entry") {
        await this.refresh(false);
        return null;
      }
      throw error;
    }
    this.markSeen(entryId);
    this.removeException(exception.id);
    const ended: ExceptionView = { ...exception, state: how, ended: { time, by, justification } };
    if (redecision)
      await this.redecideNow(entryId, redecision).catch((e: unknown) => this.onError(e as Error));
    return ended;
  }

  /** Exceptions in force (or all, read from the log), newest first, filtered. */
  async listExceptions(filter: {
    state?: "active" | "revoked" | "expired" | "all";
    sha256?: string;
    kind?: ExceptionKind;
    case?: string;
  }): Promise<ExceptionView[]> {
    const state = filter.state ?? "active";
    let all: ExceptionView[];
    if (state === "active") all = [...this.exceptions.values()];
    else all = await this.readAllExceptions();
    return all
      .filter(
        (e) =>
          (state === "all" || e.state === state) &&
          (filter.kind === undefined || e.kind === filter.kind) &&
          (filter.case === undefined || e.case === filter.case) &&
          (filter.sha256 === undefined ||
            ("sha256" in e.scope && e.scope.sha256 === filter.sha256.toLowerCase())),
      )
      .sort((a, b) => (a.id < b.id ? 1 : -1));
  }

  async getException(id: string): Promise<ExceptionView> {
    const found = await this.readException(id);
    if (!found) throw new NotFoundError(`no exception \`${id}\` is recorded`);
    return found;
  }

  /** The exceptions in force as the records `ExceptionSet` takes: what `clearance exceptions export` writes. */
  activeRecords(): ExceptionRecord[] {
    return [...this.exceptions.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map(recordOf);
  }

  // ---- cases -----------------------------------------------------------------------------

  /** Open cases from memory (oldest first), or cases of any status read from the log. */
  async listCases(filter: {
    status?: CaseStatus | "all";
    sha256?: string;
    rule?: string;
    olderThanMs?: number;
    limit: number;
    after?: string;
  }): Promise<CaseView[]> {
    this.enabled();
    const status = filter.status ?? "open";
    const now = this.clock();
    const keep = (c: { id: string; sha256: string; rule: string | null; opened: number }) =>
      (filter.sha256 === undefined || c.sha256 === filter.sha256.toLowerCase()) &&
      (filter.rule === undefined || c.rule === filter.rule) &&
      (filter.olderThanMs === undefined || now - c.opened >= filter.olderThanMs) &&
      (filter.after === undefined || c.id > filter.after);
    if (status === "open") {
      return [...this.openById.values()]
        .filter((c) => c.committed && keep({ ...c, rule: c.detail.rule }))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, filter.limit)
        .map((c) => liveView(c, this.config));
    }
    // every case's opening entry, oldest first, then each case read whole
    const out: CaseView[] = [];
    let after = filter.after;
    for (;;) {
      const rows = await this.audit.entriesOf(REVIEW_CASE_KIND, {
        field: "event",
        value: "opened",
        limit: LOAD_PAGE,
        ...(after === undefined ? {} : { after }),
      });
      for (const r of rows) {
        const d = r.detail as OpenedDetail;
        const head = {
          id: r.id,
          sha256: r.sha256 as string,
          rule: d.rule,
          opened: Date.parse(r.time),
        };
        if (!keep(head)) continue;
        const view = await this.readCase(r.id);
        if (status === "all" || view.status === status) out.push(view);
        if (out.length >= filter.limit) return out;
      }
      if (rows.length < LOAD_PAGE) return out;
      after = rows[rows.length - 1]!.id;
    }
  }

  /** A case read whole from the log: its events and votes. */
  async readCase(id: string): Promise<CaseView> {
    this.enabled();
    const [events, votes] = await Promise.all([
      this.audit.entriesOf(REVIEW_CASE_KIND, { field: "caseId", value: id, limit: 100 }),
      this.audit.entriesOf(REVIEW_VOTE_KIND, { field: "caseId", value: id, limit: 1_000 }),
    ]);
    const opened = events.find((e) => e.event === "opened");
    if (!opened) throw new NotFoundError(`no review case \`${id}\` is recorded`);
    const d = opened.detail as OpenedDetail;
    const closing = events.find((e) => e.event !== "opened");
    const view: CaseView = {
      id,
      sha256: opened.sha256 as string,
      ...d,
      status: (closing?.event as CaseStatus | undefined) ?? "open",
      opened: opened.time,
      expires: d.expires,
      closed: closing?.time ?? null,
      outcome: null,
      exception: null,
      votes: votes.map((v) => voteOf(v)),
      waitingFor: null,
      history: events.map((e) => ({
        id: e.id,
        time: e.time,
        event: e.event as CaseEvent["event"],
        detail: e.detail as Record<string, unknown>,
      })),
    };
    if (closing?.event === "resolved") {
      const detail = closing.detail as { outcome: "approved" | "rejected"; exception: string };
      view.outcome = detail.outcome;
      view.exception = detail.exception;
    }
    if (view.status === "open") {
      const verdict = tally(view.votes, this.config);
      view.waitingFor = "outcome" in verdict ? null : verdict.waitingFor;
    }
    return view;
  }

  /**
   * The rules changed: each open case's file is decided again, and where it is no longer `review`
   * the new decision is recorded (source `review`), which withdraws its case. Files still in review
   * record nothing. Returns how many cases were withdrawn.
   */
  async rulesChanged(revision: string): Promise<number> {
    if (!this.config.enabled || !this.redecider) return 0;
    let withdrawn = 0;
    for (const live of [...this.openById.values()]) {
      const decided = await this.redecider(
        {
          sha256: live.sha256,
          decisionId: live.detail.decisionId,
          why: `the rules changed to revision ${revision}`,
        },
        `rules:${revision}:${live.id}`,
        "review",
      ).catch((error: unknown) => {
        this.onError(error as Error);
        return null;
      });
      if (decided) withdrawn++;
    }
    return withdrawn;
  }

  // ---- time passing, and other replicas ---------------------------------------------------

  /**
   * One round: reads what other replicas wrote, closes open cases past their expiry and ends
   * exceptions past theirs, each once (and each file decided again through the outbox).
   */
  async sweep(): Promise<{ casesExpired: number; exceptionsExpired: number }> {
    await this.refresh(false);
    const now = this.clock();
    let casesExpired = 0;
    let exceptionsExpired = 0;
    for (const live of [...this.openById.values()]) {
      if (live.expires > now) continue;
      const time = new Date(now).toISOString();
      const redecision: Redecision = {
        sha256: live.sha256,
        decisionId: live.detail.decisionId,
        why: `review case ${live.id} expired unanswered`,
      };
      const fields = {
        id: newId(now),
        time,
        event: "expired",
        caseId: live.id,
        sha256: live.sha256,
        scope: live.scope,
        once: `case-close:${live.id}`,
        detail: { after: this.config.caseExpiry },
      };
      try {
        await this.audit.appendEntry(REVIEW_CASE_KIND, fields, {
          notifications: [redecisionNote(redecision)],
        });
      } catch (error) {
        if (error instanceof AuditUnavailableError && error.scope === "entry") continue;
        throw error;
      }
      this.markSeen(fields.id);
      this.close(live, "expired");
      this.metrics.casesClosed.inc({ outcome: "expired" });
      casesExpired++;
      await this.redecideNow(fields.id, redecision).catch((e: unknown) => this.onError(e as Error));
    }
    // a case whose votes reached the policy but whose resolution was not written (the log failed
    // between the two) is resolved now; its once keys keep it to one resolution
    for (const live of [...this.openById.values()]) {
      if (live.votes.size === 0 || !("outcome" in tally([...live.votes.values()], this.config)))
        continue;
      const kase = await this.readCase(live.id);
      const verdict = tally(kase.votes, this.config);
      if (kase.status === "open" && "outcome" in verdict)
        await this.resolve(kase, verdict.voters.at(-1)!, verdict);
    }
    for (const exception of [...this.exceptions.values()]) {
      if (exception.expires === null || Date.parse(exception.expires) > now) continue;
      if (await this.endException(exception, "expired", null, null)) exceptionsExpired++;
    }
    return { casesExpired, exceptionsExpired };
  }

  /**
   * Reads the log's review entries into memory: everything (`all`), or what was written since the
   * newest entry seen, less an overlap for entries other replicas committed late.
   */
  async refresh(all: boolean): Promise<void> {
    const after = all || this.newestSeen === 0 ? undefined : idFloor(this.newestSeen - OVERLAP_MS);
    // after the first read, what this replica wrote it applied as it wrote it: only the others'
    for (const kind of [REVIEW_CASE_KIND, REVIEW_VOTE_KIND, EXCEPTION_KIND])
      await this.readKind(
        kind,
        after === undefined ? {} : { after, otherThanChain: this.audit.chain },
      );
    const horizon = this.newestSeen - 2 * OVERLAP_MS;
    for (const [id, t] of this.seen) if (t < horizon) this.seen.delete(id);
  }

  private async readKind(
    kind: EntryKind,
    query: {
      after?: string;
      field?: string;
      value?: string;
      otherThanChain?: string;
      /** apply entries seen before too */
      force?: boolean;
    },
  ): Promise<void> {
    let after = query.after;
    for (;;) {
      const rows = await this.audit.entriesOf(kind, {
        ...(query.field === undefined ? {} : { field: query.field, value: query.value! }),
        ...(query.otherThanChain === undefined ? {} : { otherThanChain: query.otherThanChain }),
        limit: LOAD_PAGE,
        ...(after === undefined ? {} : { after }),
      });
      for (const r of rows) this.apply(kind, r, query.force === true);
      if (rows.length < LOAD_PAGE) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  /** Applies one entry read from the log; an entry applied before changes nothing. */
  private apply(
    kind: EntryKind,
    e: Record<string, unknown> & { id: string; time: string },
    force = false,
  ): void {
    if (!force && this.seen.has(e.id)) return;
    this.markSeen(e.id);
    if (kind === REVIEW_CASE_KIND) {
      const key = caseKey(e.sha256 as string, e.scope as string);
      if (e.event === "opened") {
        const last = this.latest.get(key);
        if (last && last.id >= (e.caseId as string)) return;
        const d = e.detail as OpenedDetail;
        this.addOpen({
          id: e.caseId as string,
          sha256: e.sha256 as string,
          scope: e.scope as string,
          opened: Date.parse(e.time),
          expires: Date.parse(d.expires),
          detail: d,
          requests: 1,
          votes: new Map(),
          committed: true,
        });
      } else {
        const live = this.openById.get(e.caseId as string);
        if (live) this.close(live, e.event as CaseStatus);
        else {
          const last = this.latest.get(key);
          if (last !== undefined && last.id === e.caseId) last.status = e.event as CaseStatus;
        }
      }
    } else if (kind === REVIEW_VOTE_KIND) {
      const vote = voteOf(e);
      this.openById.get(vote.caseId)?.votes.set(vote.voter, vote);
    } else if (e.event === "created") {
      const record = e.record as ExceptionView;
      if (!this.ended.has(record.id)) this.addException(record);
    } else this.removeException(e.exceptionId as string);
  }

  private markSeen(id: string): void {
    const t = idTime(id);
    this.seen.set(id, t);
    if (t > this.newestSeen) this.newestSeen = t;
  }

  private addOpen(live: LiveCase): void {
    const key = caseKey(live.sha256, live.scope);
    const other = this.open.get(key);
    // two replicas opened a case at once and the log kept one: the other is dropped on failure
    if (other && other.id !== live.id) this.drop(other);
    this.open.set(key, live);
    this.openById.set(live.id, live);
    this.latest.set(key, { id: live.id, status: "open", opened: live.opened, requests: 1 });
  }

  private close(live: LiveCase, status: CaseStatus): void {
    const key = caseKey(live.sha256, live.scope);
    if (this.open.get(key) === live) this.open.delete(key);
    this.openById.delete(live.id);
    this.latest.set(key, { id: live.id, status, opened: live.opened, requests: live.requests });
  }

  private drop(live: LiveCase): void {
    const key = caseKey(live.sha256, live.scope);
    if (this.open.get(key) === live) this.open.delete(key);
    this.openById.delete(live.id);
    if (this.latest.get(key)?.id === live.id) this.latest.delete(key);
  }

  private addException(e: ExceptionView): void {
    this.exceptions.set(e.id, e);
    this.set = null;
  }

  private removeException(id: string): void {
    this.ended.add(id);
    if (this.exceptions.delete(id)) this.set = null;
  }

  // ---- reading exceptions from the log ----------------------------------------------------

  private async readException(id: string): Promise<ExceptionView | undefined> {
    const rows = await this.audit.entriesOf(EXCEPTION_KIND, {
      field: "exceptionId",
      value: id,
      limit: 10,
    });
    return foldException(rows);
  }

  private async readAllExceptions(): Promise<ExceptionView[]> {
    const byId = new Map<string, (Record<string, unknown> & { id: string; time: string })[]>();
    let after: string | undefined;
    for (;;) {
      const rows = await this.audit.entriesOf(EXCEPTION_KIND, {
        limit: LOAD_PAGE,
        ...(after === undefined ? {} : { after }),
      });
      for (const r of rows) {
        const id = r.exceptionId as string;
        byId.set(id, [...(byId.get(id) ?? []), r]);
      }
      if (rows.length < LOAD_PAGE) break;
      after = rows[rows.length - 1]!.id;
    }
    return [...byId.values()].map((rows) => foldException(rows)).filter((e) => e !== undefined);
  }

  // ---- re-deciding -----------------------------------------------------------------------

  /**
   * Decides a file again for the outbox row `<entryId>:@redecide`, at most once: the decision is
   * recorded with the row's id as its delivery id, and a row whose delivery id is recorded is done.
   */
  async redecideRow(rowId: string, payload: string): Promise<void> {
    const r = JSON.parse(payload) as Redecision;
    // A row is due as soon as its entry is committed, which can be before the request that wrote
    // it has applied the entry here (its answer from the log's writer still on its way): the
    // file's review entries are read from the log first, so the file is decided on what was written.
    await this.readKind(REVIEW_CASE_KIND, { field: "sha256", value: r.sha256, force: true });
    if (r.exceptionId !== undefined)
      await this.readKind(EXCEPTION_KIND, {
        field: "exceptionId",
        value: r.exceptionId,
        force: true,
      });
    await this.redecideOnce(`redecide:${rowId}`, r);
  }

  /** The re-decision the outbox row of `entryId` asks for, now, for the request's answer. */
  private redecideNow(entryId: string, r: Redecision | null): Promise<DecisionRecord | null> {
    if (!r) return Promise.resolve(null);
    return this.redecideOnce(`redecide:${entryId}:${REDECIDE_TARGET}`, r);
  }

  /**
   * One re-decision per delivery id: the outbox sender and the request that queued it may both
   * ask, and share one answer. One recorded before (before a restart) is answered as recorded.
   */
  private redecideOnce(deliveryId: string, r: Redecision): Promise<DecisionRecord | null> {
    if (!this.redecider) return Promise.reject(new Error("no re-decider is set"));
    let running = this.redeciding.get(deliveryId);
    if (!running) {
      running = this.redecider(r, deliveryId).finally(() => this.redeciding.delete(deliveryId));
      this.redeciding.set(deliveryId, running);
    }
    return running;
  }

  private exceptionEntry(
    e: ExceptionView,
    once: string,
    redecision: Redecision | null,
  ): {
    fields: Record<string, unknown> & { id: string; time: string };
    notifications: Notification[];
    redecision: Redecision | null;
  } {
    return {
      fields: {
        id: e.id,
        time: e.created,
        event: "created",
        exceptionId: e.id,
        record: e,
        by: e.createdBy,
        justification: e.justification,
        once,
      },
      notifications: redecision ? [redecisionNote(redecision)] : [],
      redecision,
    };
  }

  // ---- helpers ---------------------------------------------------------------------------

  private enabled(): void {
    if (!this.config.enabled)
      throw new ReviewsDisabledError("reviews are turned off on this server (`reviews.enabled`)");
  }

  private actorName(actor: Actor, field: "voter" | "by"): string {
    if (actor.key !== null) {
      if (actor.named !== undefined && actor.named !== actor.key)
        throw new InvalidReviewError(
          `\`${field}\` must name ${actor.key.startsWith(PERSON_PREFIX) ? "you" : "this API key"}, \`${actor.key}\``,
          [
            {
              pointer: `/${field}`,
              message: `must be \`${actor.key}\` (${actor.key.startsWith(PERSON_PREFIX) ? "you, as signed in" : "the key"}) or left out`,
            },
          ],
        );
      return actor.key;
    }
    if (actor.named === undefined || actor.named.trim() === "")
      throw new InvalidReviewError(`without API keys, say who you are in \`${field}\``, [
        { pointer: `/${field}`, message: "is required on a server without API keys" },
      ]);
    return actor.named.trim();
  }

  /** An expiry as given (RFC 3339, or null), or the default; checked against the policy. */
  private expiryOf(given: string | null | undefined, now: number, pointer: string): string | null {
    const bad = (message: string) =>
      new InvalidReviewError(`the expiry ${message}`, [{ pointer, message }]);
    if (given === undefined) return new Date(now + this.defaultExpiryMs).toISOString();
    if (given === null) {
      if (!this.config.exceptionExpiry.allowNoExpiry)
        throw bad(
          "must be a time: exceptions that never expire are not allowed (`reviews.exceptionExpiry.allowNoExpiry`)",
        );
      return null;
    }
    const at = RFC3339.test(given) ? Date.parse(given) : Number.NaN;
    if (Number.isNaN(at)) throw bad(`must be an RFC 3339 time, not \`${given}\``);
    if (at <= now) throw bad(`\`${given}\` is in the past`);
    if (at - now > this.maxExpiryMs)
      throw bad(
        `\`${given}\` is further away than \`reviews.exceptionExpiry.max\` (${this.config.exceptionExpiry.max})`,
      );
    return new Date(at).toISOString();
  }

  private scopeOf(context: unknown): string {
    if (this.config.caseScope.length === 0) return "";
    const c = (context ?? {}) as Record<string, unknown>;
    const fields: Record<string, string> = {};
    for (const name of this.config.caseScope) {
      const v = c[name];
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean")
        fields[name] = String(v);
    }
    return scopeKey(fields);
  }

  private stats() {
    const now = this.clock();
    let oldest = now;
    for (const c of this.openById.values()) oldest = Math.min(oldest, c.opened);
    const exceptions: Record<string, number> = {};
    for (const k of KINDS) for (const s of ["approved", "rejected"]) exceptions[`${k}/${s}`] = 0;
    let expiringSoon = 0;
    for (const e of this.exceptions.values()) {
      exceptions[`${e.kind}/${e.status}`]!++;
      if (e.expires !== null && Date.parse(e.expires) - now < SOON_MS) expiringSoon++;
    }
    return {
      openCases: this.openById.size,
      oldestOpenSeconds: (now - oldest) / 1000,
      exceptions,
      expiringSoon,
    };
  }
}

/** An entry `track` asks to be appended with a decision. */
export interface CaseEntry {
  fields: Record<string, unknown> & {
    id: string;
    time: string;
    event: string;
    caseId: string;
    sha256: string;
  };
  notifications: Notification[];
}

/** A justification without its surrounding blanks; a blank one is refused, naming the field. */
function justificationOf(text: string, what: string): string {
  const justification = text.trim();
  if (justification === "")
    throw new InvalidReviewError(`${what} needs a justification`, [
      { pointer: "/justification", message: "must say why, in words" },
    ]);
  return justification;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function caseKey(sha256: string, scope: string): string {
  return `${sha256.toLowerCase()}:${scope}`;
}

/** The scope's fields as one string: `group=finance&site=hq` (names sorted, values encoded). */
function scopeKey(fields: Readonly<Record<string, string>>): string {
  return Object.keys(fields)
    .sort()
    .map((k) => `${k}=${encodeURIComponent(fields[k]!)}`)
    .join("&");
}

function scopeFields(scope: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (scope === "") return out;
  for (const part of scope.split("&")) {
    const at = part.indexOf("=");
    out[part.slice(0, at)] = decodeURIComponent(part.slice(at + 1));
  }
  return out;
}

function signerOf(result: Readonly<Record<string, unknown>>): string | null {
  const s = result.signature as { status?: unknown; thumbprint?: unknown } | undefined;
  return s?.status === "valid" && typeof s.thumbprint === "string" && s.thumbprint !== ""
    ? s.thumbprint
    : null;
}

function vendorOf(result: Readonly<Record<string, unknown>>): OpenedDetail["vendor"] {
  const v = result.vendor as { name?: unknown; product?: unknown } | undefined;
  return typeof v?.name === "string" && typeof v.product === "string"
    ? { name: v.name, product: v.product }
    : null;
}

function normalScope(scope: ExceptionBody["scope"]): ExceptionScope {
  if ("sha256" in scope) return { sha256: scope.sha256.toLowerCase() };
  if ("signer" in scope) return { signer: scope.signer };
  return { vendor: scope.vendor, product: scope.product };
}

function recordOf(e: ExceptionView): ExceptionRecord {
  return {
    id: e.id,
    status: e.status,
    scope: e.scope,
    ...(e.context === null ? {} : { context: e.context }),
    created: e.created,
    expires: e.expires,
    approvers: e.approvers,
    justification: e.justification,
    case: e.case,
  };
}

function voteOf(e: Record<string, unknown>): VoteView {
  return {
    id: e.id as string,
    time: e.time as string,
    caseId: e.caseId as string,
    voter: e.voter as string,
    vote: e.vote as VoteView["vote"],
    justification: e.justification as string,
    exception: (e.exception as VoteView["exception"]) ?? null,
  };
}

/** An open case as memory holds it (`history` is read with the case, `readCase`). */
function liveView(c: LiveCase, policy: ReviewConfig): CaseView {
  const votes = [...c.votes.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const verdict = tally(votes, policy);
  return {
    id: c.id,
    sha256: c.sha256,
    ...c.detail,
    status: "open",
    opened: new Date(c.opened).toISOString(),
    expires: c.detail.expires,
    closed: null,
    outcome: null,
    exception: null,
    votes,
    waitingFor: "outcome" in verdict ? null : verdict.waitingFor,
    history: [],
  };
}

function foldException(
  rows: readonly (Record<string, unknown> & { id: string; time: string })[],
): ExceptionView | undefined {
  const created = rows.find((r) => r.event === "created");
  if (!created) return undefined;
  const view = { ...(created.record as ExceptionView) };
  const end = rows.find((r) => r.event !== "created");
  if (end)
    return {
      ...view,
      state: end.event as "revoked" | "expired",
      ended: {
        time: end.time,
        by: (end.by as string | null) ?? null,
        justification: (end.justification as string | null) ?? null,
      },
    };
  return view;
}

function redecisionNote(r: Redecision): Notification {
  return { target: REDECIDE_TARGET, payload: JSON.stringify(r) };
}

function listNames(names: readonly string[]): string {
  return names.map((n) => `rule \`${n}\``).join(" and ");
}

/**
 * What the votes so far come to under the policy. A rejection vetoes (or, without vetoes, as many
 * rejections as approvals needed reject). An approval asking for a signer or vendor exception
 * counts for that kind and for the file; the case resolves with the broader kind once
 * `broaderScopeApprovals` approvals ask for it, and with the file once `approvalsRequired`
 * approvals are in and at least one asked for the file only.
 */
export function tally(
  votes: readonly VoteView[],
  policy: Pick<ReviewConfig, "approvalsRequired" | "broaderScopeApprovals" | "rejectionVetoes">,
):
  | { outcome: "approved" | "rejected"; kind: ExceptionKind; voters: VoteView[] }
  | { waitingFor: string } {
  const approvals = votes.filter((v) => v.vote === "approve");
  const rejections = votes.filter((v) => v.vote === "reject");
  if (
    rejections.length > 0 &&
    (policy.rejectionVetoes || rejections.length >= policy.approvalsRequired)
  )
    return {
      outcome: "rejected",
      kind: "file",
      voters: policy.rejectionVetoes ? rejections.slice(0, 1) : rejections,
    };
  for (const kind of ["signer", "vendor"] as const) {
    const asking = approvals.filter((a) => a.exception?.kind === kind);
    if (asking.length >= policy.broaderScopeApprovals)
      return { outcome: "approved", kind, voters: asking };
  }
  const fileOnly = approvals.filter((a) => (a.exception?.kind ?? "file") === "file");
  if (approvals.length >= policy.approvalsRequired && fileOnly.length > 0)
    return { outcome: "approved", kind: "file", voters: approvals };
  const broader = approvals.find((a) => a.exception && a.exception.kind !== "file");
  if (broader && approvals.length >= policy.approvalsRequired) {
    const kind = broader.exception!.kind;
    const have = approvals.filter((a) => a.exception?.kind === kind).length;
    return {
      waitingFor: `${policy.broaderScopeApprovals - have} more approval${policy.broaderScopeApprovals - have === 1 ? "" : "s"} asking for a \`${kind}\` exception, or one approving the file only`,
    };
  }
  const missing = policy.approvalsRequired - approvals.length;
  return { waitingFor: `${missing} more approval${missing === 1 ? "" : "s"}` };
}
