// The playground: candidate rules, sent as text, decided on one input or replayed over recorded
// decisions, beside the live rules. Nothing here changes the live rules or writes to the log.
// The candidate is compiled and run on worker threads (`playground-worker.ts`), a few at a time,
// each under a time limit: a hostile rule file costs its own thread, never the decisions.

import { Worker } from "node:worker_threads";
import type { RawRecord, Tallies } from "@clearance/dryrun";
import type { DiagnosticData } from "@clearance/dsl";
import { type InputFormat, listOf, toCanonical } from "@clearance/engine";
import type { AuditLog } from "./audit/log.js";
import type { ServerConfig } from "./config.js";
import { replayInput } from "./decide.js";
import {
  InvalidContextError,
  InvalidRequestError,
  InvalidResultError,
  NotFoundError,
  PlaygroundTimeoutError,
  ServerBusyError,
  under,
} from "./errors.js";
import type {
  DecideReply,
  PlaygroundFile,
  StartReply,
  WorkerReply,
  WorkerRequest,
} from "./playground-worker.js";
import type { RulesHolder } from "./rules.js";

export type { PlaygroundFile } from "./playground-worker.js";

export type PlaygroundOptions = ServerConfig["playground"];

type Action = "allow" | "deny" | "review";
const ACTIONS: readonly Action[] = ["allow", "deny", "review"];

export interface PlaygroundDecideRequest {
  files: PlaygroundFile[];
  /** a canonical result or a VirusTotal report (`format` forces one) */
  input?: unknown;
  format?: InputFormat;
  /** an audit entry whose stored input (and context) is decided */
  auditId?: string;
  context?: unknown;
  /** the evaluation time (RFC 3339); default: the audit entry's time, or now */
  now?: string;
}

export interface PlaygroundDecideAnswer {
  diagnostics: DiagnosticData[];
  /** the candidate's decision, null when it does not compile */
  candidate: DecideReply["decision"];
  /** the live rules' decision of the same input at the same time */
  live: {
    decision: Action;
    rule: string | null;
    reason: string;
    matched: string[];
    revision: string;
  };
  input: { sha256: string; fileName: string | null; auditId: string | null; now: string };
}

export interface PlaygroundDryRunRequest {
  files: PlaygroundFile[];
  from: string;
  to: string;
  /** the changed files listed, at most */
  limit?: number;
}

export interface PlaygroundChange {
  auditId: string;
  sha256: string;
  fileName: string | null;
  before: { decision: Action; rule: string | null; reason: string };
  after: { decision: Action; rule: string | null; reason: string };
}

export interface PlaygroundDryRunAnswer {
  diagnostics: DiagnosticData[];
  /** false when the candidate does not compile: nothing was replayed */
  ran: boolean;
  period: { from: string; to: string; now: string };
  baseline: { revision: string };
  totals: { read: number; decided: number; invalid: number; malformed: number };
  /** whether the period held more decisions than `playground.maxRecords`: only the first were replayed */
  truncated: boolean;
  outcomes: { live: Record<Action, number>; candidate: Record<Action, number> };
  /** from (the live rules) x to (the candidate) */
  transitions: { from: Action; to: Action; count: number }[];
  changed: number;
  changes: PlaygroundChange[];
  changesLimit: number;
  invalid: { auditId: string; problems: { pointer: string; message: string }[] }[];
}

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** Records handed to the thread at a time: a few hundred keeps each message small. */
const BATCH = 256;

interface Slot {
  worker: Worker;
  /** the live revision whose files this thread was sent last */
  liveRevision: string | undefined;
  /** resolves when the thread has loaded; rejects when it ends before */
  ready: Promise<void>;
  fail: (error: Error) => void;
  busy: boolean;
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
}

/** Threads, at most `size`, each doing one job at a time; a job over its time ends its thread. */
class PlaygroundPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly url: URL,
  ) {}

  /** A thread for one job, or ServerBusyError when every thread is at work. */
  acquire(): Slot {
    if (this.closed) throw new ServerBusyError("the server is stopping", 1);
    const idle = this.slots.find((s) => !s.busy);
    if (idle) {
      idle.busy = true;
      return idle;
    }
    if (this.slots.length >= this.size)
      throw new ServerBusyError(
        `the playground is busy with ${this.size} run${this.size === 1 ? "" : "s"} (\`playground.workers\`); try again when one finishes`,
        1,
      );
    const slot = this.start();
    slot.busy = true;
    return slot;
  }

  release(slot: Slot): void {
    slot.busy = false;
  }

  /** The live files to send with a job: none when the thread holds this revision's already. */
  live(
    slot: Slot,
    revision: string,
    files: () => PlaygroundFile[],
  ): { live?: PlaygroundFile[]; liveRevision: string } {
    if (slot.liveRevision === revision) return { liveRevision: revision };
    slot.liveRevision = revision;
    return { live: files(), liveRevision: revision };
  }

  /**
   * Sends one request to the slot's thread; past `deadline` (epoch ms), whether the thread is
   * still loading or at work, the thread is ended and the request fails.
   */
  call<T>(slot: Slot, req: WithoutId<WorkerRequest>, deadline: number): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.end(slot, new PlaygroundTimeoutError("the candidate rules ran over the time limit"));
        },
        Math.max(0, deadline - Date.now()),
      );
      slot.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      // a thread that ends while loading has failed this request already (`end`)
      slot.ready.then(
        () => {
          if (slot.pending.has(id)) slot.worker.postMessage({ ...req, id } as WorkerRequest);
        },
        () => {},
      );
    });
  }

  private start(): Slot {
    // a rule set that allocates without end runs this thread out of memory, not the server
    const worker = new Worker(this.url, {
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    let ready!: () => void;
    let fail!: (error: Error) => void;
    const slot: Slot = {
      worker,
      liveRevision: undefined,
      ready: new Promise<void>((resolve, reject) => {
        ready = resolve;
        fail = reject;
      }),
      fail: (error) => fail(error),
      busy: false,
      pending: new Map(),
    };
    slot.ready.catch(() => {});
    worker.on("message", (m: WorkerReply | "ready") => {
      if (m === "ready") return ready();
      const waiting = slot.pending.get(m.id);
      if (!waiting) return;
      slot.pending.delete(m.id);
      if (m.ok) waiting.resolve(m.value);
      else waiting.reject(new Error(m.message));
    });
    worker.on("error", (error) => this.end(slot, error));
    worker.on("exit", () => this.end(slot, new Error("the playground thread stopped")));
    // an idle thread does not keep the process alive
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  /** Ends a thread and fails what it was doing; the next job starts a new one. */
  private end(slot: Slot, error: Error): void {
    const at = this.slots.indexOf(slot);
    if (at >= 0) this.slots.splice(at, 1);
    slot.fail(error);
    for (const w of slot.pending.values()) w.reject(error);
    slot.pending.clear();
    void slot.worker.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}

function workerUrl(): URL {
  // under a test runner this module is TypeScript: threads run the built JavaScript
  return import.meta.url.endsWith(".ts")
    ? new URL("../dist/playground-worker.js", import.meta.url)
    : new URL("./playground-worker.js", import.meta.url);
}

/** The id of an export line's entry: the line starts with it (`{"id":"...",`). */
function entryId(line: string): string {
  const m = /^\{"id":"([0-9a-f-]{36})"/.exec(line);
  if (m) return m[1]!;
  return String((JSON.parse(line) as { id?: unknown }).id);
}

function counts(o: Record<Action, number>): Record<Action, number> {
  return { allow: o.allow, deny: o.deny, review: o.review };
}

export class PlaygroundService {
  private readonly pool: PlaygroundPool;

  constructor(
    private readonly rules: RulesHolder,
    private readonly audit: AuditLog,
    private readonly options: PlaygroundOptions,
    private readonly clock: () => number = Date.now,
  ) {
    this.pool = new PlaygroundPool(options.workers, workerUrl());
  }

  /** Decides one input with the candidate rules and with the live ones. */
  async decide(req: PlaygroundDecideRequest): Promise<PlaygroundDecideAnswer> {
    checkFiles(req.files);
    if ((req.input === undefined) === (req.auditId === undefined))
      throw new InvalidRequestError("give either `input` or `auditId`, not both and not neither", [
        {
          pointer: req.input === undefined ? "" : "/auditId",
          message: "one of `input`, `auditId`",
        },
      ]);
    let context = req.context;
    let now = req.now === undefined ? this.clock() : Date.parse(req.now);
    let result: ReturnType<typeof toCanonical>;
    if (req.auditId !== undefined) {
      const found = await this.audit.get(req.auditId);
      if (!found) throw new NotFoundError(`no audit entry \`${req.auditId}\``);
      const snapshot = found.input as { result?: unknown; context?: unknown; format?: unknown };
      if (!snapshot || snapshot.result === undefined)
        throw new InvalidRequestError(
          `audit entry \`${req.auditId}\` has no input snapshot to decide (pruned or not recorded)`,
          [{ pointer: "/auditId", message: "no input snapshot" }],
        );
      result = replayInput(snapshot);
      if (!result.ok)
        throw new InvalidResultError(
          `the stored input of \`${req.auditId}\` cannot be read again (redacted)`,
          under("/auditId", result.problems),
        );
      if (context === undefined) context = snapshot.context;
      // as it was decided, unless another time is asked for
      if (req.now === undefined) now = Date.parse(found.entry.time);
    } else {
      const list = listOf(req.input);
      if (list !== undefined)
        throw new InvalidResultError(
          `the input is a list of ${list.items.length} items (${list.what}), not one result: paste one of them`,
          [{ pointer: `/input${list.at === "" ? "" : `/${list.at}`}`, message: "a list" }],
        );
      result = toCanonical(
        req.input,
        req.format === undefined ? undefined : { format: req.format },
      );
      if (!result.ok)
        throw new InvalidResultError(
          `the analysis result has ${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}`,
          under("/input", result.problems),
        );
    }
    const canonical = result.result;
    const live = this.rules.ruleset;
    const contextProblems = live.checkContext(context);
    if (contextProblems.length > 0)
      throw new InvalidContextError(
        contextProblems[0]!.message,
        under("/context", contextProblems),
      );
    // as the candidate: with the rule directory's `exceptions.json`, not the reviews' exceptions
    const exception =
      live.exceptions.length > 0 ? live.exceptionSet.find(canonical, context, now) : undefined;
    const l = live.decide(canonical, { context, now, ...(exception ? { exception } : {}) });
    const slot = this.pool.acquire();
    try {
      const reply = await this.pool.call<DecideReply>(
        slot,
        {
          op: "decide",
          files: req.files,
          ...this.pool.live(slot, live.revision, () => this.rules.files),
          now,
          result: canonical,
          ...(context === undefined ? {} : { context }),
        },
        Date.now() + this.options.compileTimeoutMs,
      );
      return {
        diagnostics: reply.diagnostics,
        candidate: reply.decision,
        live: {
          decision: l.decision,
          rule: l.rule,
          reason: l.reason,
          matched: [...l.matched],
          revision: live.revision,
        },
        input: {
          sha256: canonical.sha256,
          fileName: canonical.fileName ?? null,
          auditId: req.auditId ?? null,
          now: new Date(now).toISOString(),
        },
      };
    } finally {
      this.pool.release(slot);
    }
  }

  /**
   * Replays every decision recorded in [from, to) with the candidate and the live rules, each
   * decision once (as `clearance dry-run --from audit:` replays an export), at one evaluation time.
   */
  async dryRun(req: PlaygroundDryRunRequest): Promise<PlaygroundDryRunAnswer> {
    checkFiles(req.files);
    const from = new Date(req.from);
    const to = new Date(req.to);
    if (!(to.getTime() > from.getTime()))
      throw new InvalidRequestError(`\`to\` (${req.to}) must be after \`from\` (${req.from})`, [
        { pointer: "/to", message: "not after `from`" },
      ]);
    const limit = Math.min(req.limit ?? 200, this.options.changesLimit);
    const now = this.clock();
    const liveRevision = this.rules.ruleset.revision;
    const deadline = Date.now() + this.options.runTimeoutMs;
    const period = {
      from: from.toISOString(),
      to: to.toISOString(),
      now: new Date(now).toISOString(),
    };
    const slot = this.pool.acquire();
    try {
      const start = await this.pool.call<StartReply>(
        slot,
        {
          op: "start",
          files: req.files,
          ...this.pool.live(slot, liveRevision, () => this.rules.files),
          now,
          changesLimit: limit,
        },
        deadline,
      );
      const empty = { allow: 0, deny: 0, review: 0 };
      if (!start.ok)
        return {
          diagnostics: start.diagnostics,
          ran: false,
          period,
          baseline: { revision: liveRevision },
          totals: { read: 0, decided: 0, invalid: 0, malformed: 0 },
          truncated: false,
          outcomes: { live: empty, candidate: empty },
          transitions: [],
          changed: 0,
          changes: [],
          changesLimit: limit,
          invalid: [],
        };
      let read = 0;
      let truncated = false;
      let batch: RawRecord[] = [];
      let inFlight: Promise<unknown> = Promise.resolve();
      const send = async () => {
        const records = batch;
        batch = [];
        // one batch decided while the next is read: at most two in memory
        await inFlight;
        inFlight = this.pool.call(slot, { op: "batch", records }, deadline);
        inFlight.catch(() => {});
      };
      const filter = { from: period.from, to: period.to };
      reading: for await (const chunk of this.audit.exportLines(filter, { inputs: true })) {
        for (const line of chunk.split("\n")) {
          if (line === "") continue;
          if (read >= this.options.maxRecords) {
            truncated = true;
            break reading;
          }
          read++;
          batch.push({ source: entryId(line), line: 1, unit: "line", text: line });
          if (batch.length >= BATCH) await send();
        }
        if (Date.now() > deadline)
          throw new PlaygroundTimeoutError("reading the period took longer than the time limit");
      }
      if (batch.length > 0) await send();
      await inFlight;
      const t = await this.pool.call<Tallies>(slot, { op: "finish" }, deadline);
      const transitions = ACTIONS.flatMap((f, i) =>
        ACTIONS.map((k, j) => ({ from: f, to: k, count: t.transitions[i]![j]! })),
      );
      return {
        diagnostics: start.diagnostics,
        ran: true,
        period,
        baseline: { revision: liveRevision },
        totals: { read: t.read, decided: t.decided, invalid: t.invalid, malformed: t.malformed },
        truncated,
        outcomes: { live: counts(t.baseline!.outcomes), candidate: counts(t.candidate.outcomes) },
        transitions,
        changed: t.changed,
        changes: t.changes.map((c) => ({
          auditId: c.source,
          sha256: c.sha256,
          fileName: c.fileName,
          before: {
            decision: c.baseline.decision,
            rule: c.baseline.rule,
            reason: c.baseline.reason,
          },
          after: {
            decision: c.candidate.decision,
            rule: c.candidate.rule,
            reason: c.candidate.reason,
          },
        })),
        changesLimit: limit,
        invalid: [...t.invalidExamples, ...t.malformedExamples].map((p) => ({
          auditId: p.source,
          problems: p.problems,
        })),
      };
    } finally {
      this.pool.release(slot);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Paths the candidate's files may have: relative, `/`-separated, inside the rule directory. */
function checkFiles(files: readonly PlaygroundFile[]): void {
  const seen = new Set<string>();
  files.forEach((f, i) => {
    const segments = f.path.split("/");
    const bad =
      f.path.startsWith("/") ||
      f.path.includes("\\") ||
      segments.some((s) => s === "" || s === "." || s === "..");
    if (bad)
      throw new InvalidRequestError(
        `file path \`${f.path}\` must be relative to the rule directory, with \`/\` between names and no \`.\` or \`..\``,
        [{ pointer: `/files/${i}/path`, message: "not a relative path inside the rule directory" }],
      );
    if (seen.has(f.path))
      throw new InvalidRequestError(`file \`${f.path}\` is given twice`, [
        { pointer: `/files/${i}/path`, message: "given twice" },
      ]);
    seen.add(f.path);
  });
  if (!files.some((f) => f.path.endsWith(".rules")))
    throw new InvalidRequestError("the files hold no `.rules` file", [
      { pointer: "/files", message: "no `.rules` file" },
    ]);
}
