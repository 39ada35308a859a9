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
  /** `overrides review` / `overrides deny` on an allow rule */
  overrides?: "review" | "deny" | undefined;
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
 * The deciding rule once `overrides` is applied, given `best` by `outranks` among the matched
 * enforced rules, and, by priority then declaration, the best matched allow rule with any
 * `overrides` (`overReview`) and with `overrides deny` (`overDeny`). Under deny-overrides an
 * overriding allow rule wins over the review (or deny) that would decide; never when a matched
 * `forbid-approval` rule forbids approval. Under first-match priority alone decides.
 */
export function applyOverrides<C extends Candidate>(
  strategy: Strategy,
  best: C | undefined,
  overReview: C | undefined,
  overDeny: C | undefined,
  approvalForbidden: boolean,
): C | undefined {
  if (strategy !== "deny-overrides" || approvalForbidden || best === undefined) return best;
  if (best.action === "review") return overReview ?? best;
  if (best.action === "deny") return overDeny ?? best;
  return best;
}

/** Whether `a` comes before `b` by priority, then declaration: among overriding allow rules. */
export function precedes(a: Candidate, b: Candidate | undefined): boolean {
  return b === undefined || outranks("first-match", a, b);
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
