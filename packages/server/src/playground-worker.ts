// A playground thread: compiles candidate rules sent over HTTP, decides one input with them, or
// replays recorded inputs with them beside the live rules. Compiling hostile text can take seconds
// per megabyte; here it holds this thread only, never the one that answers decisions, and the
// pool (`playground.ts`) ends a thread that runs over its time.
import { parentPort } from "node:worker_threads";
import { emptyTallies, type RawRecord, RecordProcessor, type Tallies } from "@clearance/dryrun";
import { type DiagnosticData, diagnosticData, type SourceFile } from "@clearance/dsl";
import { compile, type Explanation, ListFileError, type Ruleset } from "@clearance/engine";

/** A file of a rule set as the API carries it: a path relative to the rule directory, and text. */
export interface PlaygroundFile {
  path: string;
  text: string;
}

export interface CompileInput {
  /** the candidate's files: `*.rules`, list files, `exceptions.json` */
  files: readonly PlaygroundFile[];
  /**
   * the live revision's files: the lists a candidate names and does not carry are read here.
   * Sent once per revision: a thread keeps the last ones it was sent (hash lists can be large).
   */
  live?: readonly PlaygroundFile[];
  liveRevision: string;
  now: number;
}

export type WorkerRequest =
  | ({ id: number; op: "decide"; result: unknown; context?: unknown } & CompileInput)
  | ({ id: number; op: "start"; changesLimit: number } & CompileInput)
  | { id: number; op: "batch"; records: RawRecord[] }
  | { id: number; op: "finish" };

export interface DecideReply {
  diagnostics: DiagnosticData[];
  decision: {
    decision: string;
    rule: string | null;
    reason: string;
    matched: string[];
    monitored: string[];
    errors: unknown[];
    explain: Explanation | undefined;
  } | null;
}

export interface StartReply {
  diagnostics: DiagnosticData[];
  /** false when the candidate does not compile: nothing is replayed */
  ok: boolean;
  /** the candidate's rule names, in declaration order */
  rules: string[];
  revision: string | null;
}

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; message: string };

/** The rule directory the candidate's paths are relative to: only for confining list paths. */
const ROOT = ".";

function normalise(path: string): string {
  return path
    .split("/")
    .filter((s) => s !== "" && s !== ".")
    .join("/");
}

/**
 * Compiles files held in memory. A list file is looked up among the candidate's files, then
 * among the live revision's: never on disk, so a rule file cannot name a host file to read.
 */
/** The live revision's files this thread was last sent. */
let liveFiles: { revision: string; files: readonly PlaygroundFile[] } | undefined;

function live(input: CompileInput): readonly PlaygroundFile[] {
  if (input.live) liveFiles = { revision: input.liveRevision, files: input.live };
  if (liveFiles?.revision !== input.liveRevision)
    throw new Error("the live rules' files were not sent to this playground thread");
  return liveFiles.files;
}

function compileFiles(
  input: Pick<CompileInput, "files" | "now">,
  liveFiles: readonly PlaygroundFile[],
): {
  ruleset: Ruleset | undefined;
  diagnostics: DiagnosticData[];
} {
  const given = new Map(input.files.map((f) => [normalise(f.path), f.text]));
  const live = new Map(liveFiles.map((f) => [normalise(f.path), f.text]));
  const sources: SourceFile[] = [];
  let exceptions: SourceFile | undefined;
  for (const [path, text] of given) if (path.endsWith(".rules")) sources.push({ path, text });
  // the candidate's own exceptions.json when it sends one, else the live revision's
  const exceptionsText = given.get("exceptions.json") ?? live.get("exceptions.json");
  if (exceptionsText !== undefined) exceptions = { path: "exceptions.json", text: exceptionsText };
  const result = compile(sources, {
    root: ROOT,
    now: input.now,
    ...(exceptions ? { exceptions } : {}),
    loadList: (written, _declaredIn, request) => {
      const path = normalise(request.file);
      const text = given.get(path) ?? live.get(path);
      if (text === undefined)
        throw new ListFileError({
          code: "file_unreadable",
          message: `list file \`${written}\` is neither among the files sent nor in the live rules`,
          help: "send the list file with the rule files, or name one of the live rule set's lists",
        });
      return text;
    },
  });
  const diagnostics = result.diagnostics.map((d) => diagnosticData(d, (p) => result.files.get(p)));
  return { ruleset: result.ruleset, diagnostics };
}

/** The dry-run this thread is running, between its `start` and its `finish`. */
let run: { processor: RecordProcessor; tallies: Tallies } | undefined;

function handle(req: WorkerRequest): unknown {
  switch (req.op) {
    case "decide": {
      const { ruleset, diagnostics } = compileFiles(req, live(req));
      if (!ruleset) return { diagnostics, decision: null } satisfies DecideReply;
      // the rule set's own `exceptions.json`, found as the dry-run finds it for a record
      const exception =
        ruleset.exceptions.length > 0
          ? ruleset.exceptionSet.find(req.result as never, req.context, req.now)
          : undefined;
      const d = ruleset.decide(req.result as never, {
        now: req.now,
        explain: true,
        ...(req.context === undefined ? {} : { context: req.context }),
        ...(exception ? { exception } : {}),
      });
      return {
        diagnostics,
        decision: {
          decision: d.decision,
          rule: d.rule,
          reason: d.reason,
          matched: [...d.matched],
          monitored: [...d.monitored],
          errors: [...d.errors],
          explain: d.explain,
        },
      } satisfies DecideReply;
    }
    case "start": {
      const files = live(req);
      const candidate = compileFiles(req, files);
      if (!candidate.ruleset)
        return {
          diagnostics: candidate.diagnostics,
          ok: false,
          rules: [],
          revision: null,
        } satisfies StartReply;
      // the live rules compiled from the same text as the server's: the baseline
      const baseline = compileFiles({ files, now: req.now }, files);
      if (!baseline.ruleset) throw new Error("the live rules did not compile in the playground");
      const c = candidate.ruleset;
      run = {
        processor: new RecordProcessor(c, baseline.ruleset, {
          now: req.now,
          strict: false,
          changesLimit: req.changesLimit,
        }),
        tallies: emptyTallies(c.rules.length, baseline.ruleset.rules.length),
      };
      return {
        diagnostics: candidate.diagnostics,
        ok: true,
        rules: c.rules.map((r) => r.name),
        revision: c.revision,
      } satisfies StartReply;
    }
    case "batch": {
      if (!run) throw new Error("no dry-run was started");
      for (const record of req.records) run.processor.process(record, run.tallies, undefined);
      return run.tallies.read;
    }
    case "finish": {
      if (!run) throw new Error("no dry-run was started");
      const { tallies } = run;
      run = undefined;
      return tallies;
    }
  }
}

if (parentPort) {
  const port = parentPort;
  port.on("message", (req: WorkerRequest) => {
    try {
      port.postMessage({ id: req.id, ok: true, value: handle(req) } satisfies WorkerReply);
    } catch (error) {
      port.postMessage({
        id: req.id,
        ok: false,
        message: (error as Error).message,
      } satisfies WorkerReply);
    }
  });
  port.postMessage("ready");
}
