import { useEffect, useMemo } from "preact/hooks";
import { useEscapeTo } from "../keys.js";
import { answerOf, type RulesData } from "./data.js";
import { tokenize } from "./highlight.js";
import type { RangeId } from "./model.js";
import { Await, relativePaths, ruleHash, rulesHash } from "./parts.js";

/** `#/rules?file=<path>&line=<n>`: one rule file, numbered and highlighted, at a line. */
export function FileView({
  data,
  path,
  line,
  set,
  range,
}: {
  data: RulesData;
  path: string;
  line: number | undefined;
  set: "live" | "shadow";
  range: RangeId;
}) {
  const status = answerOf(data.status);
  useEscapeTo(() => rulesHash("", { range }), [range]);
  return (
    <>
      <p class="back">
        <a href={rulesHash("", { range })}>← Rules</a>
      </p>
      <Await loaded={data.files} what="the rule files (GET /v1/ruleset/files)">
        {(all) => {
          const files = set === "shadow" ? all.shadow?.files : all.files;
          const rel = relativePaths(status);
          const file = files?.find((f) => f.path === path);
          if (!file)
            return (
              <section class="notice error" role="alert">
                <h1>No such rule file</h1>
                <p>
                  The {set} rule set has no file <code>{path}</code>. It may have been removed by a
                  reload.
                </p>
              </section>
            );
          const rules = (set === "shadow" ? status?.shadow?.rules : status?.rules) ?? [];
          const starts = new Map(
            rules
              .filter((r) => rel(r.location.file) === path)
              .map((r) => [r.location.line, r.name]),
          );
          return (
            <Source
              title={`${rel(path)}${set === "shadow" ? " (shadow)" : ""}`}
              revision={set === "shadow" ? all.shadow!.revision : all.revision}
              text={file.text}
              target={line}
              starts={starts}
              range={range}
            />
          );
        }}
      </Await>
    </>
  );
}

function Source({
  title,
  revision,
  text,
  target,
  starts,
  range,
}: {
  title: string;
  revision: string;
  text: string;
  target: number | undefined;
  /** the rules declared at a line, by line */
  starts: Map<number, string>;
  range: RangeId;
}) {
  const lines = useMemo(() => tokenize(text.endsWith("\n") ? text.slice(0, -1) : text), [text]);
  useEffect(() => {
    if (target === undefined) return;
    document.getElementById(`L${target}`)?.scrollIntoView({ block: "center" });
  }, [target, text]);
  return (
    <>
      <h1 class="page-title mono">{title}</h1>
      <p class="muted small">
        Revision <span class="mono">{revision}</span>, as compiled: {lines.length} lines.
        {target !== undefined && ` Line ${target} is marked.`}
      </p>
      <div class="source-wrap">
        <pre class="source">
          <code>
            {lines.map((tokens, i) => {
              const n = i + 1;
              const rule = starts.get(n);
              return (
                <span
                  key={n}
                  id={`L${n}`}
                  class={`line${n === target ? " target" : ""}`}
                  aria-current={n === target ? "location" : undefined}
                >
                  <span class="ln" aria-hidden="true">
                    {n}
                  </span>
                  {tokens.map((t, j) =>
                    t.kind === "text" ? (
                      t.text
                    ) : (
                      <span key={j} class={`tok-${t.kind}`}>
                        {t.text}
                      </span>
                    ),
                  )}
                  {rule && (
                    <a
                      class="rule-link"
                      href={ruleHash(rule, range)}
                      aria-label={`Hits of rule ${rule}`}
                    >
                      hits
                    </a>
                  )}
                  {"\n"}
                </span>
              );
            })}
          </code>
        </pre>
      </div>
    </>
  );
}
