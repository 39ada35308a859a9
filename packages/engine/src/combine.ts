import type { Action, OnError, Strategy } from "@clearance/dsl";
import type { RuntimeErrorCode } from "./runtime.js";

/** deny > review > allow */
export const SEVERITY: Readonly<Record<Action, number>> = Object.freeze({
  allow: 1,
  review: 2,
  deny: 3,
});

export interface Candidate {
  index: number;
  name: string;
  action: Action;
  priority: number;
}

export interface RuleError {
  rule: string;
  /** what kind of failure: a stable code (RUNTIME_ERROR_CODES in runtime.ts) */
  code: RuntimeErrorCode;
  message: string;
  /** a monitor rule's error is reported, never enforced */
  monitor: boolean;
}

export interface Combined {
  decision: Action;
  /** the deciding rule; null when the default decided */
  rule: string | null;
  /** index of the deciding rule, -1 for the default, -2 when a run-time error decided */
  index: number;
}

/**
 * Whether `a` decides over `b` among matched enforced rules.
 * deny-overrides: the most severe action, then the highest priority, then the first declared.
 * first-match: the highest priority, then the first declared.
 */
export function outranks(strategy: Strategy, a: Candidate, b: Candidate): boolean {
  if (strategy === "deny-overrides") {
    const d = SEVERITY[a.action] - SEVERITY[b.action];
    if (d !== 0) return d > 0;
  }
  return a.priority > b.priority || (a.priority === b.priority && a.index < b.index);
}

/**
 * Applies `on-error` after combining: `review` raises the decision to at least review,
 * `deny` fails closed, `ignore` leaves it. Errors of monitor rules never change the decision.
 */
export function applyErrors(
  onError: OnError,
  combined: Combined,
  errors: readonly RuleError[],
): { combined: Combined; failedRule?: RuleError } {
  if (onError === "ignore") return { combined };
  const failed = errors.find((e) => !e.monitor);
  if (!failed) return { combined };
  const floor: Action = onError === "deny" ? "deny" : "review";
  if (SEVERITY[combined.decision] >= SEVERITY[floor]) return { combined };
  return { combined: { decision: floor, rule: failed.rule, index: -2 }, failedRule: failed };
}
