import type { Decision } from "../api.js";

// Small pieces the audit pages share. Every value from the log is rendered as a text node.
export { latency, relativeTo, shortHash, utc, utcSeconds } from "./text.js";

const MARK: Record<Decision, string> = { allow: "✓", deny: "✕", review: "?" };

/** A decision as a mark and a word (never colour alone), with a shape of its own in CSS. */
export function DecisionBadge({ decision }: { decision: string }) {
  const known = decision === "allow" || decision === "deny" || decision === "review";
  return (
    <span class={`badge badge-${known ? decision : "other"}`}>
      <span aria-hidden="true">{known ? MARK[decision] : "•"}</span> {decision.toUpperCase()}
    </span>
  );
}

export function FileName({ name }: { name: string | null }) {
  return name === null ? <span class="muted">(no name)</span> : name;
}
