import { useEffect, useState } from "preact/hooks";
import { api, describeError, type EntryDetail } from "../api.js";
import { useEscapeTo } from "../keys.js";
import { searchHash } from "../query.js";
import { ChainState } from "./ChainState.js";
import { ExplainTree } from "./ExplainTree.js";
import { DecisionBadge, FileName, latency, utc } from "./format.js";
import { auditLists } from "./state.js";

const EXPLAIN_SOURCE: Record<EntryDetail["explain"]["source"], string> = {
  stored: "recorded with the decision",
  recomputed: "recomputed from the stored input with the rules of that revision",
  unavailable: "not available",
};

export function EntryPage({ id }: { id: string }) {
  const [detail, setDetail] = useState<EntryDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setDetail(null);
    setError(null);
    api.entry(id).then(
      (d) => live && setDetail(d),
      (e: unknown) => live && setError(describeError(e)),
    );
    return () => {
      live = false;
    };
  }, [id]);
  useEffect(() => {
    document.title = `${detail?.entry.fileName ?? "Entry"} · Audit · Clearance`;
    document.getElementById("entry-title")?.focus();
  }, [detail]);
  useEscapeTo(() => auditLists.back());

  const back = (
    <p class="back">
      <a href={auditLists.back()}>← Back to the results</a> <span class="hint">(Esc)</span>
    </p>
  );
  if (error)
    return (
      <>
        {back}
        <p class="notice error" role="alert">
          {error}
        </p>
      </>
    );
  if (!detail)
    return (
      <>
        {back}
        <p role="status">Loading entry {id}…</p>
      </>
    );
  const { entry: e, input, explain } = detail;
  const row = (term: string, value: preact.ComponentChildren) => (
    <>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </>
  );
  const list = (items: string[] | undefined) =>
    items && items.length > 0 ? (
      <span class="mono">{items.join(", ")}</span>
    ) : (
      <span class="muted">none</span>
    );
  return (
    <article class="entry" aria-labelledby="entry-title">
      {back}
      <header class="entry-head">
        <DecisionBadge decision={e.decision} />
        <h1 id="entry-title" tabIndex={-1}>
          <FileName name={e.fileName} />
        </h1>
      </header>
      <p class="entry-actions">
        <a class="button" href={`#/playground?entry=${encodeURIComponent(e.id)}`}>
          Open in playground
        </a>{" "}
        <span class="muted small">try a change to the rules on this input</span>
      </p>
      <p class="mono hash-line">
        <span class="label">SHA-256</span> {e.sha256}{" "}
        <a href={searchHash({ sha256: e.sha256 })} class="small">
          every decision on this file
        </a>
      </p>

      <div class="entry-grid">
        <section aria-labelledby="decision-title" class="panel">
          <h2 id="decision-title">Decision</h2>
          <dl class="facts">
            {row("Decision", <DecisionBadge decision={e.decision} />)}
            {row(
              "Rule",
              e.rule === null ? (
                <span class="muted">none (the default decided)</span>
              ) : (
                <code>{e.rule}</code>
              ),
            )}
            {row("Reason", e.reason)}
            {row("Time", <span class="mono">{utc(e.time)} UTC</span>)}
            {row("Source", e.source)}
            {row("Requester", e.requester ?? <span class="muted">none (no API keys)</span>)}
            {row(
              "Rule set",
              <span class="mono">
                {e.ruleset.revision}
                {e.ruleset.commit ? ` · commit ${e.ruleset.commit}` : ""}
                {e.ruleset.dirty ? " (uncommitted changes)" : ""}
              </span>,
            )}
            {row("Matched", list(e.matched))}
            {row("Monitored", list(e.monitored))}
            {e.approvalForbiddenBy &&
              e.approvalForbiddenBy.length > 0 &&
              row("Approval forbidden by", list(e.approvalForbiddenBy))}
            {e.exception &&
              row(
                "Exception",
                <a href={`#/exceptions/${e.exception}`} class="mono">
                  {e.exception}
                </a>,
              )}
            {e.case &&
              row(
                "Review case",
                <a href={`#/reviews/${e.case}`} class="mono">
                  {e.case}
                </a>,
              )}
            {e.shadow &&
              row(
                "Shadow rules",
                <span>
                  {e.shadow.decision ?? "?"}
                  {e.shadow.rule ? ` by ${e.shadow.rule}` : ""}
                </span>,
              )}
            {row("Evaluation time", latency(e.latencyUs))}
            {row("Entry id", <span class="mono">{e.id}</span>)}
          </dl>
          {e.errors.length > 0 && (
            <>
              <h3>Rule errors</h3>
              <ul class="errors">
                {e.errors.map((err, i) => (
                  <li key={i}>
                    <code>{err.rule}</code>
                    {err.code ? ` [${err.code}]` : ""}: {err.message}
                    {err.monitor ? " (monitor rule)" : ""}
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>

        <section aria-labelledby="chain-title" class="panel">
          <h2 id="chain-title">Chain position</h2>
          <dl class="facts">
            {row("Chain", <code>{e.chain}</code>)}
            {row("Seq", <span class="mono">{e.seq}</span>)}
            {row("Hash", <span class="mono break">{e.hash}</span>)}
            {row("Previous hash", <span class="mono break">{e.prevHash}</span>)}
          </dl>
          <ChainState entry={e} />
        </section>
      </div>

      <section aria-labelledby="explain-title" class="panel">
        <h2 id="explain-title">Explanation</h2>
        <p class="muted">
          Explanation {EXPLAIN_SOURCE[explain.source]}
          {explain.why ? `: ${explain.why}` : "."}
        </p>
        {explain.explain && <ExplainTree explain={explain.explain} decidingRule={e.rule} />}
      </section>

      <section aria-labelledby="input-title" class="panel">
        <h2 id="input-title">Input snapshot</h2>
        {input === null ? (
          <p class="muted">Not stored for this entry (removed by retention, or never recorded).</p>
        ) : (
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard (WCAG 2.1.1)
          <pre class="json" tabIndex={0}>
            {JSON.stringify(input, null, 2)}
          </pre>
        )}
      </section>
    </article>
  );
}
