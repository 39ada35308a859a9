/**
 * The dry-run report: the machine report (`--report out.json`) is exactly this shape, and the
 * Markdown and HTML reports are rendered from it. Stable: fields are only ever added.
 */
import { count, plural } from "./numbers.js";

/** allow, deny or review */
export type Action = "allow" | "deny" | "review";

export const REPORT_VERSION = 1;

export interface RulesetSummary {
  /** the rule directory, or `<dir> @ <git ref>` for a baseline read from git */
  source: string;
  name: string | null;
  revision: string;
  commit: { sha: string; dirty: boolean } | null;
  rules: number;
}

export type OutcomeCounts = Record<Action, number>;

export interface RuleStats {
  rule: string;
  action: Action;
  monitor: boolean;
  /** records on which the rule matched (monitor rules: matched but not enforced) */
  matched: number;
  /** records it decided */
  deciding: number;
  /** run-time errors it raised */
  errors: number;
}

/** One side's answer for a record. */
export interface Side {
  decision: Action;
  rule: string | null;
  reason: string;
  /** rules that matched, in declaration order */
  matched: string[];
}

/** A record whose decision differs between baseline and candidate. */
export interface Change {
  sha256: string;
  fileName: string | null;
  /** where the record came from */
  source: string;
  line: number;
  baseline: Side;
  candidate: Side;
}

export interface Transition {
  from: Action;
  to: Action;
  count: number;
  /** a few examples, for changed transitions only */
  examples: Change[];
}

export interface RecordProblem {
  source: string;
  line: number;
  /** JSON Pointer problems (invalid records) or the syntax error (malformed records) */
  problems: { pointer: string; message: string }[];
}

/**
 * The rule sets' exceptions in a dry-run. Each side applies its own `exceptions.json` (found for
 * each record with its context at the evaluation time); the counts are the candidate's.
 */
export interface ExceptionsSummary {
  /** false with `--no-exceptions`: every record was replayed without exceptions */
  applied: boolean;
  /** exceptions in the candidate rule set, and in the baseline's (null without a baseline) */
  candidate: number;
  baseline: number | null;
  /** records an exception applied to */
  found: number;
  /** records decided by an exception: the deciding rule read it (`decision.exception` not null) */
  decided: number;
  /** records whose decision (allow, deny, review) differs with the exceptions and without */
  changed: number;
}

/**
 * The exceptions of a run in one sentence, for every report; undefined when neither rule set has
 * any (`3 exceptions: found for 12 records, decided 10, changed 8 decisions`).
 */
export function exceptionsSentence(e: ExceptionsSummary | undefined): string | undefined {
  // reports written before exceptions were counted have no such field
  if (!e || (e.candidate === 0 && !e.baseline)) return undefined;
  const n = (k: number, word: string) => `${count(k)} ${plural(k, word)}`;
  const held = `${n(e.candidate, "exception")} in exceptions.json${e.baseline === null ? "" : ` (baseline ${count(e.baseline)})`}`;
  if (!e.applied) return `${held}, not applied (--no-exceptions)`;
  return `${held}: found for ${n(e.found, "record")}, ${count(e.decided)} decided by an exception, ${n(e.changed, "decision")} changed by exceptions`;
}

export interface DryRunReport {
  version: typeof REPORT_VERSION;
  generatedAt: string;
  /** evaluation time every record was decided at */
  now: string;
  sources: string[];
  candidate: RulesetSummary;
  baseline: RulesetSummary | null;
  /** read = decided + invalid + malformed, always */
  totals: { read: number; decided: number; invalid: number; malformed: number; durationMs: number };
  outcomes: { candidate: OutcomeCounts; baseline: OutcomeCounts | null };
  /** per candidate rule, in declaration order */
  rules: RuleStats[];
  /** per baseline rule, when there is a baseline */
  baselineRules: RuleStats[] | null;
  /** candidate rules that matched no record */
  neverMatched: string[];
  /** all nine from/to pairs when there is a baseline, else empty */
  transitions: Transition[];
  /** records whose decision changed */
  changed: number;
  /** changed records for the report's table, up to `changesLimit` */
  changes: Change[];
  changesLimit: number;
  /** first invalid and malformed records, up to a limit each */
  invalid: RecordProblem[];
  malformed: RecordProblem[];
  /** the exceptions kept with the rules (`exceptions.json`) and what they did to the decisions */
  exceptions: ExceptionsSummary;
  /** `--fail-on` transitions and those that happened */
  failOn: {
    rules: { from: Action; to: Action }[];
    triggered: { from: Action; to: Action; count: number }[];
  };
}
