import { parentPort, workerData } from "node:worker_threads";
import { loadRuleset, type Ruleset } from "@clearance/engine";
import { emptyTallies, type Tallies } from "./aggregate.js";
import { loadBaseline } from "./baseline.js";
import { type ProcessOptions, RecordProcessor, StrictError } from "./process.js";
import type { RawRecord } from "./records.js";

export interface WorkerInit {
  rules: string;
  baseline?: string;
  process: ProcessOptions;
  candidateRevision: string;
  baselineRevision?: string;
}
export interface WorkerRequest {
  seq: number;
  records: RawRecord[];
}
export interface WorkerReply {
  seq: number;
  tallies: Tallies;
  lines: string[];
  error?: string;
  strict?: boolean;
}

// Runs only as a worker thread (see run.ts): each worker compiles the same rule sets and checks
// it got the same revisions as the main thread, then decides the batches it is sent.
if (parentPort) {
  const init = workerData as WorkerInit;
  const load = (
    ruleset: Ruleset | undefined,
    expected: string | undefined,
    what: string,
  ): Ruleset | undefined => {
    if (expected === undefined) return undefined;
    if (!ruleset || ruleset.revision !== expected)
      throw new Error(`the ${what} rules changed while the dry-run started`);
    return ruleset;
  };
  const now = init.process.now;
  const c = loadRuleset(init.rules, { now });
  const candidate = load(
    c.diagnostics.some((d) => d.severity === "error") ? undefined : c.ruleset,
    init.candidateRevision,
    "candidate",
  )!;
  const baseline =
    init.baseline === undefined
      ? undefined
      : load(
          loadBaseline(init.baseline, init.rules, now).result.ruleset,
          init.baselineRevision,
          "baseline",
        );
  const processor = new RecordProcessor(candidate, baseline, init.process);
  const port = parentPort;
  // Until this arrives, the main thread decides batches itself.
  port.postMessage({ ready: true });
  port.on("message", (req: WorkerRequest) => {
    const tallies = emptyTallies(candidate.rules.length, baseline ? baseline.rules.length : null);
    const lines: string[] = [];
    try {
      for (const raw of req.records)
        processor.process(raw, tallies, init.process.decisions ? lines : undefined);
      port.postMessage({ seq: req.seq, tallies, lines } satisfies WorkerReply);
    } catch (error) {
      port.postMessage({
        seq: req.seq,
        tallies,
        lines,
        error: (error as Error).message,
        strict: error instanceof StrictError,
      } satisfies WorkerReply);
    }
  });
}
