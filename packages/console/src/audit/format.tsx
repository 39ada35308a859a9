import type { Decision } from "../api.js";

// Small pieces the audit pages share. Every value from the log is rendered as a text node.

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

/** `2026-12-04 10:30:12.345` from an RFC 3339 UTC time; the column says UTC. */
export function utc(time: string): string {
  return time.replace("T", " ").replace(/Z$/, "");
}

/** A SHA-256 shortened for a table: enough to tell files apart, the whole in the title. */
export function shortHash(hash: string): string {
  return hash.length > 20 ? `${hash.slice(0, 12)}…${hash.slice(-6)}` : hash;
}

export function FileName({ name }: { name: string | null }) {
  return name === null ? <span class="muted">(no name)</span> : name;
}
