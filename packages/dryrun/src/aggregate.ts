import type { Decision, RuleInfo } from "@clearance/engine";
import type { Action, Change, OutcomeCounts, RecordProblem, RuleStats, Side } from "./report.js";

export const ACTIONS: readonly Action[] = Object.freeze(["allow", "deny", "review"]);

/** Per-rule-set counters, addressed by rule index for speed; mergeable across workers. */
export interface SideStats {
  outcomes: OutcomeCounts;
  matched: number[];
  deciding: number[];
  errors: number[];
}

/**
 * Everything a dry-run counts. Plain data (structured-clone friendly), so workers build one each
 * and the main thread merges them; merging is associative, so totals never depend on batching.
 */
export interface Tallies {
  read: number;
  decided: number;
  invalid: number;
  malformed: number;
  candidate: SideStats;
  baseline: SideStats | null;
  /** transitions[from][to] as a 3x3 matrix, by ACTIONS index */
  transitions: number[][];
  changed: number;
  /** the candidate's exceptions (`exceptions.json`) as they met the records */
  exceptions: ExceptionTallies;
  /** changed records kept for the report, in input order, up to the limit */
  changes: Change[];
  invalidExamples: RecordProblem[];
  malformedExamples: RecordProblem[];
}

/** What the candidate's exceptions did to the records decided. */
export interface ExceptionTallies {
  /** records an exception applied to (found for the record, its context and the time) */
  found: number;
  /** records decided by an exception: the deciding rule read it (`decision.exception != null`) */
  decided: number;
  /** records whose decision (allow, deny, review) differs with the exceptions and without */
  changed: number;
}

export const EXAMPLE_LIMIT = 20;

export function emptySide(rules: number): SideStats {
  return {
    outcomes: { allow: 0, deny: 0, review: 0 },
    matched: new Array(rules).fill(0),
    deciding: new Array(rules).fill(0),
    errors: new Array(rules).fill(0),
  };
}

export function emptyTallies(candidateRules: number, baselineRules: number | null): Tallies {
  return {
    read: 0,
    decided: 0,
    invalid: 0,
    malformed: 0,
    candidate: emptySide(candidateRules),
    baseline: baselineRules === null ? null : emptySide(baselineRules),
    transitions: [
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ],
    changed: 0,
    exceptions: { found: 0, decided: 0, changed: 0 },
    changes: [],
    invalidExamples: [],
    malformedExamples: [],
  };
}

const ACTION_INDEX: Record<Action, number> = { allow: 0, deny: 1, review: 2 };

/** Counts one decision into a side, given the rule set's name -> index map. */
export function countDecision(
  side: SideStats,
  d: Decision,
  index: ReadonlyMap<string, number>,
): void {
  side.outcomes[d.decision]++;
  for (const name of d.matched) side.matched[index.get(name)!]!++;
  for (const name of d.monitored) side.matched[index.get(name)!]!++;
  // The deciding rule, also when its run-time error decided through `on-error`.
  if (d.rule !== null) {
    const i = index.get(d.rule);
    if (i !== undefined) side.deciding[i]!++;
  }
  for (const e of d.errors) {
    const i = index.get(e.rule);
    if (i !== undefined) side.errors[i]!++;
  }
}

export function countTransition(t: Tallies, from: Action, to: Action): void {
  t.transitions[ACTION_INDEX[from]]![ACTION_INDEX[to]]!++;
  if (from !== to) t.changed++;
}

export function side(d: Decision): Side {
  return { decision: d.decision, rule: d.rule, reason: d.reason, matched: d.matched };
}

function mergeSide(into: SideStats, from: SideStats): void {
  for (const a of ACTIONS) into.outcomes[a] += from.outcomes[a];
  for (let i = 0; i < into.matched.length; i++) {
    into.matched[i]! += from.matched[i]!;
    into.deciding[i]! += from.deciding[i]!;
    into.errors[i]! += from.errors[i]!;
  }
}

/** Adds `from` into `into`; `from` comes later in the input (examples keep input order). */
export function mergeTallies(into: Tallies, from: Tallies, changesLimit: number): void {
  into.read += from.read;
  into.decided += from.decided;
  into.invalid += from.invalid;
  into.malformed += from.malformed;
  mergeSide(into.candidate, from.candidate);
  if (into.baseline && from.baseline) mergeSide(into.baseline, from.baseline);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) into.transitions[i]![j]! += from.transitions[i]![j]!;
  into.changed += from.changed;
  into.exceptions.found += from.exceptions.found;
  into.exceptions.decided += from.exceptions.decided;
  into.exceptions.changed += from.exceptions.changed;
  for (const c of from.changes) if (into.changes.length < changesLimit) into.changes.push(c);
  for (const p of from.invalidExamples)
    if (into.invalidExamples.length < EXAMPLE_LIMIT) into.invalidExamples.push(p);
  for (const p of from.malformedExamples)
    if (into.malformedExamples.length < EXAMPLE_LIMIT) into.malformedExamples.push(p);
}

export function ruleStats(rules: readonly RuleInfo[], s: SideStats): RuleStats[] {
  return rules.map((r, i) => ({
    rule: r.name,
    action: r.action,
    monitor: r.monitor,
    matched: s.matched[i]!,
    deciding: s.deciding[i]!,
    errors: s.errors[i]!,
  }));
}

export function transitionAt(t: Tallies, from: Action, to: Action): number {
  return t.transitions[ACTION_INDEX[from]]![ACTION_INDEX[to]]!;
}
