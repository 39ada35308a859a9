import { statSync } from "node:fs";
import { cpus } from "node:os";
import type { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { type CompileResult, type InputFormat, loadRuleset, type Ruleset } from "@clearance/engine";
import {
  ACTIONS,
  emptyTallies,
  mergeTallies,
  ruleStats,
  type Tallies,
  transitionAt,
} from "./aggregate.js";
import { type LoadedRules, loadBaseline, RulesError } from "./baseline.js";
import { type DecisionsFormat, RecordProcessor, StrictError } from "./process.js";
import type { RawRecord } from "./records.js";
import { type Action, type DryRunReport, REPORT_VERSION, type RulesetSummary } from "./report.js";
import { openSources } from "./sources.js";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./worker.js";

export interface DryRunOptions {
  /** candidate rule directory */
  rules: string;
  /** record sources: files, directories, `-` for standard input */
  from: readonly string[];
  /** a directory or a git ref of the rules' repository */
  baseline?: string;
  context?: unknown;
  /** the evaluation time for every record (default: the time the run starts) */
  now?: number;
  /** decide in this many threads, the main thread being one of them (default 1: no workers) */
  workers?: number;
  format?: InputFormat;
  strict?: boolean;
  /** stop after reading this many records */
  limit?: number;
  /** the largest record read, in UTF-8 bytes (`SourceOptions.maxRecordBytes`, default 1 MiB) */
  maxRecordBytes?: number;
  /**
   * apply the rule sets' exceptions (`exceptions.json`) to the records (default true); false
   * replays without them (`--no-exceptions`)
   */
  exceptions?: boolean;
  /** transitions that make the run fail (exit 3) */
  failOn?: readonly { from: Action; to: Action }[];
  /** changed records kept for the reports (default 2,000) */
  changesLimit?: number;
  /** one line per decided record, in input order */
  decisions?: { format: DecisionsFormat; write: (lines: string[]) => void };
  /** called every few thousand records */
  onProgress?: (progress: Progress) => void;
  stdin?: Readable;
  /** opens sources that are not files (see `SourceOptions.external`) */
  external?: (spec: string) => NodeJS.ReadableStream | undefined;
}

/**
 * Records a batch, for a worker or for this thread. Records waiting in a batch outlive young-
 * generation collections and are promoted, so the old generation (collected rarely) grows with the
 * batch: 512 took a 2-worker run through a pipe to 311 MB of RSS on 1,000,000 records, 128 keeps it
 * near 210 MB at the same rate.
 */
const BATCH = 128;
/** Batches a worker may have queued before the main thread decides the next one itself. */
const MAX_IN_FLIGHT = 2;

export interface Progress {
  read: number;
  decided: number;
  /** bytes of input read so far, and in all when every source is a plain file (else undefined) */
  bytes: number;
  totalBytes: number | undefined;
}

/** The size of the input when every source is an uncompressed file: what an ETA is computed from. */
function inputSize(specs: readonly string[]): number | undefined {
  let total = 0;
  for (const spec of specs) {
    if (spec === "-" || /\.gz$/i.test(spec) || /^[a-z][a-z0-9+.-]*:/i.test(spec)) return undefined;
    try {
      const st = statSync(spec);
      if (!st.isFile()) return undefined;
      total += st.size;
    } catch {
      return undefined;
    }
  }
  return total;
}

/** Loads both rule sets, decides every record, and returns the report. */
export async function dryRun(options: DryRunOptions): Promise<DryRunReport> {
  const started = Date.now();
  const now = options.now ?? started;
  const candidate = requireRules(
    { result: loadRuleset(options.rules, { now }), label: options.rules },
    "candidate",
  );
  const baseline =
    options.baseline === undefined
      ? undefined
      : requireRules(loadBaseline(options.baseline, options.rules, now), "baseline");
  const changesLimit = options.changesLimit ?? 2_000;
  const processOptions = {
    now,
    strict: options.strict === true,
    changesLimit,
    ...(options.context === undefined ? {} : { context: options.context }),
    ...(options.format === undefined ? {} : { format: options.format }),
    ...(options.decisions ? { decisions: options.decisions.format } : {}),
    exceptions: options.exceptions !== false,
  };
  const total = emptyTallies(
    candidate.ruleset.rules.length,
    baseline ? baseline.ruleset.rules.length : null,
  );
  const totalBytes = inputSize(options.from);
  const meter = { bytes: 0 };
  const records = metered(
    limited(
      openSources(options.from, {
        ...(options.stdin ? { stdin: options.stdin } : {}),
        ...(options.external ? { external: options.external } : {}),
        ...(options.maxRecordBytes === undefined ? {} : { maxRecordBytes: options.maxRecordBytes }),
      }),
      options.limit,
    ),
    meter,
  );
  const report = (): void =>
    options.onProgress?.({
      read: total.read,
      decided: total.decided,
      bytes: meter.bytes,
      totalBytes,
    });
  const workers = Math.max(1, Math.min(options.workers ?? 1, cpus().length * 2));
  if (workers === 1) {
    const processor = new RecordProcessor(candidate.ruleset, baseline?.ruleset, processOptions);
    let lines: string[] | undefined = options.decisions ? [] : undefined;
    for await (const raw of records) {
      processor.process(raw, total, lines);
      if (total.read % 4096 === 0) {
        report();
        if (lines && lines.length > 0) {
          options.decisions!.write(lines);
          lines = [];
        }
      }
    }
    if (lines && lines.length > 0) options.decisions!.write(lines);
  } else {
    await runInWorkers(
      records,
      workers,
      {
        rules: options.rules,
        ...(options.baseline === undefined ? {} : { baseline: options.baseline }),
        process: processOptions,
        candidateRevision: candidate.ruleset.revision,
        ...(baseline ? { baselineRevision: baseline.ruleset.revision } : {}),
      },
      new RecordProcessor(candidate.ruleset, baseline?.ruleset, processOptions),
      total,
      changesLimit,
      options,
      report,
    );
  }
  report();
  return buildReport(options, now, started, candidate, baseline, total, changesLimit);
}

function requireRules(
  loaded: LoadedRules,
  which: string,
): { ruleset: Ruleset; result: CompileResult; label: string } {
  if (!loaded.result.ruleset || loaded.result.diagnostics.some((d) => d.severity === "error")) {
    throw new RulesError(`the ${which} rules (\`${loaded.label}\`) do not compile`, {
      cause: loaded.result,
    });
  }
  return { ruleset: loaded.result.ruleset, result: loaded.result, label: loaded.label };
}

/** Counts the input's bytes (JSON text is almost always ASCII: characters stand for bytes). */
async function* metered(
  records: AsyncIterable<RawRecord>,
  meter: { bytes: number },
): AsyncGenerator<RawRecord> {
  for await (const r of records) {
    meter.bytes += r.text.length + 1;
    yield r;
  }
}

async function* limited(
  records: AsyncIterable<RawRecord>,
  limit: number | undefined,
): AsyncGenerator<RawRecord> {
  if (limit === undefined) {
    yield* records;
    return;
  }
  let n = 0;
  if (n >= limit) return;
  for await (const r of records) {
    yield r;
    if (++n >= limit) return;
  }
}

/**
 * Batches of raw lines go to whichever ready worker has the fewest in flight (at most four each).
 * Until the first worker has loaded its rules (~0.5 s of module loading), the main thread decides
 * batches itself, so start-up costs no throughput. Results are merged in batch order, so examples
 * and `--decisions` keep input order whatever finishes first.
 */
async function runInWorkers(
  records: AsyncIterable<RawRecord>,
  count: number,
  init: WorkerInit,
  local: RecordProcessor,
  total: Tallies,
  changesLimit: number,
  options: DryRunOptions,
  report: () => void,
): Promise<void> {
  const url = workerUrl();
  // Workers run the built JavaScript with no inherited flags (a test runner's module conditions
  // would point them at TypeScript sources).
  // The main thread is one of the `count` deciders: on a machine with as many cores as deciders,
  // a third thread only competes (measured: two workers plus a dispatching main thread gained
  // 1.36x; a worker plus a deciding main thread has no idle core to wait for).
  const pool = Array.from({ length: count - 1 }, () => ({
    worker: new Worker(url, { workerData: init, execArgv: [] }),
    ready: false,
    inFlight: 0,
  }));
  const pending = new Map<number, WorkerReply>();
  let nextToMerge = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const mergeReady = (): void => {
    for (let reply = pending.get(nextToMerge); reply; reply = pending.get(nextToMerge)) {
      pending.delete(nextToMerge);
      mergeTallies(total, reply.tallies, changesLimit);
      if (reply.lines.length > 0) options.decisions?.write(reply.lines);
      nextToMerge++;
    }
    report();
  };
  for (const slot of pool) {
    slot.worker.on("message", (reply: WorkerReply | { ready: true }) => {
      if ("ready" in reply) {
        slot.ready = true;
      } else {
        slot.inFlight--;
        if (reply.error) failure ??= new (reply.strict ? StrictError : Error)(reply.error);
        pending.set(reply.seq, reply);
        mergeReady();
      }
      notify();
    });
    slot.worker.on("error", (e) => {
      failure ??= e;
      notify();
    });
  }
  const emptyLike = (): Tallies =>
    emptyTallies(
      total.candidate.matched.length,
      total.baseline ? total.baseline.matched.length : null,
    );
  let seq = 0;
  let batch: RawRecord[] = [];
  const dispatch = async (): Promise<void> => {
    const s = seq++;
    const records = batch;
    batch = [];
    if (failure) return;
    // A ready worker with room takes the batch; otherwise (none ready yet, or all busy) the main
    // thread decides it, which also throttles reading.
    const ready = pool.filter((p) => p.ready && p.inFlight < MAX_IN_FLIGHT);
    if (ready.length > 0) {
      const slot = ready.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
      slot.inFlight++;
      slot.worker.postMessage({ seq: s, records } satisfies WorkerRequest);
      return;
    }
    const tallies = emptyLike();
    const lines: string[] = [];
    try {
      for (const raw of records) local.process(raw, tallies, options.decisions ? lines : undefined);
    } catch (error) {
      failure ??= error as Error;
      return;
    }
    pending.set(s, { seq: s, tallies, lines });
    mergeReady();
    // Let worker messages through between batches decided here.
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  try {
    for await (const raw of records) {
      if (failure) break;
      batch.push(raw);
      if (batch.length >= BATCH) await dispatch();
    }
    if (batch.length > 0 && !failure) await dispatch();
    while (!failure && nextToMerge < seq) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    if (failure) throw failure;
  } finally {
    await Promise.all(pool.map((p) => p.worker.terminate()));
  }
}

function workerUrl(): URL {
  // From sources (tests), the worker runs from the built package.
  return import.meta.url.endsWith(".ts")
    ? new URL("../dist/worker.js", import.meta.url)
    : new URL("./worker.js", import.meta.url);
}

function summary(label: string, rs: Ruleset): RulesetSummary {
  return {
    source: label,
    name: rs.name ?? null,
    revision: rs.revision,
    commit: rs.commit ?? null,
    rules: rs.rules.length,
  };
}

function buildReport(
  options: DryRunOptions,
  now: number,
  started: number,
  candidate: { ruleset: Ruleset; label: string },
  baseline: { ruleset: Ruleset; label: string } | undefined,
  t: Tallies,
  changesLimit: number,
): DryRunReport {
  const transitions = baseline
    ? ACTIONS.flatMap((from) =>
        ACTIONS.map((to) => ({
          from,
          to,
          count: transitionAt(t, from, to),
          examples:
            from === to
              ? []
              : t.changes
                  .filter((c) => c.baseline.decision === from && c.candidate.decision === to)
                  .slice(0, 5),
        })),
      )
    : [];
  const failOnRules = [...(options.failOn ?? [])];
  const triggered = failOnRules
    .map((f) => ({ ...f, count: baseline ? transitionAt(t, f.from, f.to) : 0 }))
    .filter((f) => f.count > 0);
  const rules = ruleStats(candidate.ruleset.rules, t.candidate);
  return {
    version: REPORT_VERSION,
    generatedAt: new Date().toISOString(),
    now: new Date(now).toISOString(),
    sources: [...options.from],
    candidate: summary(candidate.label, candidate.ruleset),
    baseline: baseline ? summary(baseline.label, baseline.ruleset) : null,
    totals: {
      read: t.read,
      decided: t.decided,
      invalid: t.invalid,
      malformed: t.malformed,
      durationMs: Date.now() - started,
    },
    outcomes: {
      candidate: t.candidate.outcomes,
      baseline: t.baseline ? t.baseline.outcomes : null,
    },
    rules,
    baselineRules: baseline && t.baseline ? ruleStats(baseline.ruleset.rules, t.baseline) : null,
    neverMatched: rules.filter((r) => r.matched === 0).map((r) => r.rule),
    transitions,
    changed: t.changed,
    changes: t.changes,
    changesLimit,
    exceptions: {
      applied: options.exceptions !== false,
      candidate: candidate.ruleset.exceptions.length,
      baseline: baseline ? baseline.ruleset.exceptions.length : null,
      found: t.exceptions.found,
      decided: t.exceptions.decided,
      changed: t.exceptions.changed,
    },
    invalid: t.invalidExamples,
    malformed: t.malformedExamples,
    failOn: { rules: failOnRules, triggered },
  };
}
