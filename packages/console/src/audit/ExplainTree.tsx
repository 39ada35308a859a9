import type { ConditionTrace, Explanation, RuleExplanation } from "../api.js";
import { relativeTo } from "./format.js";

// The explanation as the engine gives it (packages/engine/src/ruleset.ts, `Explanation`): every
// rule evaluated for the input, and for each the conditions with the values they saw.

const OUTCOME: Record<RuleExplanation["outcome"], string> = {
  matched: "matched",
  not_matched: "did not match",
  unknown: "unknown (a field was missing)",
  expired: "expired",
  error: "failed",
};

function Truth({ value }: { value: boolean | null }) {
  const word = value === true ? "true" : value === false ? "false" : "unknown";
  return <span class={`truth truth-${word}`}>{word}</span>;
}

function Trace({ trace, label }: { trace: ConditionTrace; label?: string }) {
  const fields = Object.entries(trace.fields ?? {});
  return (
    <li>
      <div class="cond">
        {label && <span class="cond-label">{label}</span>}
        <code>{trace.expr}</code> <span aria-hidden="true">→</span> <Truth value={trace.value} />
        {trace.item !== undefined && <span class="muted"> (list item {trace.item})</span>}
      </div>
      {(fields.length > 0 || (trace.missing?.length ?? 0) > 0) && (
        <ul class="seen">
          {fields.map(([path, value]) => (
            <li key={path}>
              <code>{path}</code> = <code class="value">{JSON.stringify(value)}</code>
            </li>
          ))}
          {trace.missing?.map((path) => (
            <li key={`missing ${path}`}>
              <code>{path}</code> <span class="muted">is missing</span>
            </li>
          ))}
        </ul>
      )}
      {trace.children && trace.children.length > 0 && (
        <ul class="tree">
          {trace.children.map((c, i) => (
            <Trace key={i} trace={c} />
          ))}
        </ul>
      )}
    </li>
  );
}

function RuleNode({
  rule,
  deciding,
  file,
}: {
  rule: RuleExplanation;
  deciding: boolean;
  file: (path: string) => string;
}) {
  return (
    <li class={`rule-node outcome-${rule.outcome}`}>
      <details open={deciding || rule.outcome === "matched" || rule.outcome === "error"}>
        <summary>
          <code class="rule-name">{rule.rule}</code>{" "}
          <span class="action">
            <span class="sr-only">action </span>
            {rule.action}
          </span>{" "}
          <span class={`outcome outcome-${rule.outcome}`}>{OUTCOME[rule.outcome]}</span>
          {rule.monitor && <span class="tag">monitor</span>}
          {deciding && <span class="tag tag-deciding">deciding rule</span>}
          <span class="muted loc">
            {" "}
            {file(rule.location.file)}:{rule.location.line}
          </span>
        </summary>
        {rule.reason !== undefined && <p class="why">reason: {rule.reason}</p>}
        {rule.error !== undefined && <p class="why error-text">error: {rule.error}</p>}
        {rule.expiredAt !== undefined && <p class="why">expired at {rule.expiredAt}</p>}
        <ul class="tree">
          {rule.when && <Trace trace={rule.when} label="when" />}
          {rule.unless?.map((u, i) => (
            <Trace key={i} trace={u} label="unless" />
          ))}
        </ul>
      </details>
    </li>
  );
}

export function ExplainTree({
  explain,
  decidingRule,
}: {
  explain: Explanation;
  decidingRule: string | null;
}) {
  const file = relativeTo(explain.rules.map((r) => r.location.file));
  return (
    <div class="explain">
      <p class="muted">
        Strategy <code>{explain.strategy}</code>, on error <code>{explain.onError}</code>, decided
        by {explain.decidedBy === "rule" ? "a rule" : `the ${explain.decidedBy}`}, evaluated at{" "}
        {explain.now}; {explain.rules.length} rules evaluated
        {explain.notApplicable > 0 ? `, ${explain.notApplicable} not applicable to this file` : ""}.
      </p>
      <ul class="rules">
        {explain.rules.map((r) => (
          <RuleNode key={r.rule} rule={r} deciding={r.rule === decidingRule} file={file} />
        ))}
      </ul>
    </div>
  );
}
