import type {
  DecideOptions,
  Decision,
  ExceptionSet,
  InputFormat,
  Ruleset,
} from "@clearance/engine";
import { countDecision, countTransition, EXAMPLE_LIMIT, side, type Tallies } from "./aggregate.js";
import { type ParseRecordOptions, parseRecord, type RawRecord, recordLocation } from "./records.js";
import type { Action } from "./report.js";

export type DecisionsFormat = "ndjson" | "csv";

export interface ProcessOptions {
  now: number;
  context?: unknown;
  format?: InputFormat;
  strict: boolean;
  changesLimit: number;
  /** render one line per decided record for `--decisions` */
  decisions?: DecisionsFormat;
  /**
   * apply each rule set's exceptions (`exceptions.json`) to the records (default true);
   * false replays without them (`--no-exceptions`)
   */
  exceptions?: boolean;
}

/** `--strict` met a record it could not decide. */
export class StrictError extends Error {
  override name = "StrictError";
}

export const CSV_HEADER =
  "sha256,fileName,source,line,decision,rule,reason,baselineDecision,baselineRule,baselineReason";

/**
 * Decides records with the candidate and, when given, the baseline rule set: each record is
 * parsed and validated once, then decided twice. Used by the main thread and by every worker.
 */
export class RecordProcessor {
  private readonly candidateIndex: Map<string, number>;
  private readonly parseOptions: ParseRecordOptions;
  private readonly baselineIndex: Map<string, number> | undefined;
  /** each side's exceptions, when it has some and they are applied */
  private readonly candidateExceptions: ExceptionSet | undefined;
  private readonly baselineExceptions: ExceptionSet | undefined;

  constructor(
    private readonly candidate: Ruleset,
    private readonly baseline: Ruleset | undefined,
    private readonly options: ProcessOptions,
  ) {
    this.candidateIndex = new Map(candidate.rules.map((r, i) => [r.name, i]));
    // One options object for every record: parseRecord checks each distinct object once.
    this.parseOptions = options.format ? { format: options.format } : {};
    this.baselineIndex = baseline ? new Map(baseline.rules.map((r, i) => [r.name, i])) : undefined;
    const apply = options.exceptions !== false;
    this.candidateExceptions =
      apply && candidate.exceptions.length > 0 ? candidate.exceptionSet : undefined;
    this.baselineExceptions =
      apply && baseline && baseline.exceptions.length > 0 ? baseline.exceptionSet : undefined;
  }

  process(raw: RawRecord, t: Tallies, lines: string[] | undefined): void {
    t.read++;
    const parsed = parseRecord(raw, this.parseOptions);
    if (parsed.kind !== "valid") {
      const problems =
        parsed.kind === "invalid" ? parsed.problems : [{ pointer: "", message: parsed.message }];
      if (this.options.strict) {
        throw new StrictError(
          `${recordLocation(raw)}: ${parsed.kind} record: ${problems.map((p) => `${p.pointer || "/"} ${p.message}`).join("; ")}`,
        );
      }
      if (parsed.kind === "invalid") {
        t.invalid++;
        if (t.invalidExamples.length < EXAMPLE_LIMIT)
          t.invalidExamples.push({ source: raw.source, line: raw.line, problems });
      } else {
        t.malformed++;
        if (t.malformedExamples.length < EXAMPLE_LIMIT)
          t.malformedExamples.push({ source: raw.source, line: raw.line, problems });
      }
      return;
    }
    const result = parsed.result;
    // a replayed audit entry brings the context it was decided with
    const context = parsed.context ?? this.options.context;
    const opts: DecideOptions =
      context === undefined ? { now: this.options.now } : { now: this.options.now, context };
    let c: Decision;
    // Without an exception for the record, the decision is the one without exceptions: only a
    // record an exception applies to is decided twice.
    const exception = this.candidateExceptions?.find(result, context, this.options.now);
    if (exception) {
      c = this.candidate.decide(result, { ...opts, exception });
      t.exceptions.found++;
      if (c.exception !== null) t.exceptions.decided++;
      if (this.candidate.decide(result, opts).decision !== c.decision) t.exceptions.changed++;
    } else c = this.candidate.decide(result, opts);
    t.decided++;
    countDecision(t.candidate, c, this.candidateIndex);
    let b: Decision | undefined;
    if (this.baseline && t.baseline) {
      const own = this.baselineExceptions?.find(result, context, this.options.now);
      b = this.baseline.decide(result, own ? { ...opts, exception: own } : opts);
      countDecision(t.baseline, b, this.baselineIndex!);
      countTransition(t, b.decision, c.decision);
      if (b.decision !== c.decision && t.changes.length < this.options.changesLimit) {
        t.changes.push({
          sha256: result.sha256,
          fileName: result.fileName ?? null,
          source: raw.source,
          line: raw.line,
          baseline: side(b),
          candidate: side(c),
        });
      }
    }
    if (lines)
      lines.push(
        this.options.decisions === "csv"
          ? csvLine(result.sha256, result.fileName, raw, c, b)
          : ndjsonLine(result.sha256, result.fileName, raw, c, b),
      );
  }
}

type D = { decision: Action; rule: string | null; reason: string; exception: string | null };

function ndjsonLine(
  sha256: string,
  fileName: string | undefined,
  raw: RawRecord,
  c: D,
  b: D | undefined,
): string {
  const o: Record<string, unknown> = {
    sha256,
    fileName: fileName ?? null,
    source: raw.source,
    line: raw.line,
    decision: c.decision,
    rule: c.rule,
    reason: c.reason,
  };
  if (c.exception !== null) o.exception = c.exception;
  if (b)
    o.baseline = {
      decision: b.decision,
      rule: b.rule,
      reason: b.reason,
      ...(b.exception === null ? {} : { exception: b.exception }),
    };
  return JSON.stringify(o);
}

function csvLine(
  sha256: string,
  fileName: string | undefined,
  raw: RawRecord,
  c: D,
  b: D | undefined,
): string {
  return [
    sha256,
    fileName ?? "",
    raw.source,
    String(raw.line),
    c.decision,
    c.rule ?? "",
    c.reason,
    b?.decision ?? "",
    b?.rule ?? "",
    b?.reason ?? "",
  ]
    .map(csvField)
    .join(",");
}

/** RFC 4180: quote fields with commas, quotes or line breaks; a leading =+-@ is prefixed to defuse spreadsheet formulas. */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
