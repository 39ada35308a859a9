import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import {
  type CaseDetail,
  type CaseView,
  type DecisionBrief,
  type ReviewPolicy,
  reviewsApi,
} from "../api.js";
import { ExplainTree } from "../audit/ExplainTree.js";
import { DecisionBadge, FileName, utcSeconds } from "../audit/format.js";
import { useEscapeTo } from "../keys.js";
import { searchHash } from "../query.js";
import { navigate } from "../router.js";
import {
  approvalForbidden,
  decidedSince,
  fileFacts,
  readFailure,
  relative,
  span,
  utcMinute,
} from "./logic.js";
import { LastOutcome, rememberOutcome } from "./outcome.js";
import { queueBack } from "./ReviewsPage.js";
import { VoteForm } from "./VoteForm.js";

export function CasePage({ id }: { id: string }) {
  const [detail, setDetail] = useState<CaseDetail | null>(null);
  const [policy, setPolicy] = useState<ReviewPolicy | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    let live = true;
    setDetail(null);
    setError(null);
    Promise.all([reviewsApi.case(id), reviewsApi.policy()]).then(
      ([d, p]) => {
        if (!live) return;
        setNow(Date.now());
        setDetail(d);
        setPolicy(p);
      },
      (e: unknown) => live && setError(readFailure(e)),
    );
    return () => {
      live = false;
    };
  }, [id]);
  // the focus moves as the case renders: deferred to after a paint, it could land after a key
  // pressed meanwhile (`a` putting the cursor in the justification) and take the cursor away
  useLayoutEffect(() => {
    document.title = `${detail?.case.fileName ?? "Case"} · Reviews · Clearance`;
    if (detail) document.getElementById("case-title")?.focus();
  }, [detail]);
  useEscapeTo(() => queueBack());

  const back = (
    <p class="back">
      <a href={queueBack()}>← Back to the queue</a> <span class="hint">(Esc)</span>
    </p>
  );
  let body: preact.ComponentChildren;
  if (error)
    body = (
      <p class="notice error" role="alert">
        {error}
      </p>
    );
  else if (!detail || !policy) body = <p role="status">Loading case {id}…</p>;
  else body = <CaseBody detail={detail} policy={policy} now={now} />;
  return (
    <article class="case" aria-labelledby="case-title">
      {back}
      <LastOutcome />
      {body}
    </article>
  );
}

function CaseBody({
  detail,
  policy,
  now,
}: {
  detail: CaseDetail;
  policy: ReviewPolicy;
  now: number;
}) {
  const { case: c, input, explain, requests, fileDecisions } = detail;
  const facts = fileFacts(input);
  const forbidden = approvalForbidden(c);
  const since = decidedSince(detail);
  const row = (term: string, value: preact.ComponentChildren) => (
    <>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </>
  );
  const missing = <span class="muted">not in the input</span>;
  return (
    <>
      <header class="entry-head">
        <DecisionBadge decision="review" />
        <h1 id="case-title" tabIndex={-1}>
          <FileName name={c.fileName} />
        </h1>
        <span class={`tag case-status case-${c.status}`}>
          {c.status}
          {c.outcome ? `: ${c.outcome}` : ""}
        </span>
      </header>
      <p class="mono hash-line">
        <span class="label">SHA-256</span> {c.sha256}{" "}
        <a href={searchHash({ sha256: c.sha256 })} class="small">
          every decision on this file
        </a>
      </p>
      <p class="case-why">
        {c.rule === null ? <span class="muted">(default)</span> : <code>{c.rule}</code>} {c.reason}
      </p>
      <p class="case-line">
        Opened {span(now - Date.parse(c.opened))} ago ({utcMinute(c.opened)})
        {c.status === "open"
          ? `; expires ${relative(c.expires, now)} (${utcMinute(c.expires)}) unless answered`
          : c.closed
            ? `; ${c.status} ${utcMinute(c.closed)}`
            : ""}
        {c.waitingFor ? `. Waiting for ${c.waitingFor}.` : "."}
      </p>
      {since && (
        <p class="case-now">
          The file is now decided <DecisionBadge decision={since.decision} />{" "}
          {since.rule === null ? (
            <span class="muted">(default)</span>
          ) : (
            <>
              by rule <code>{since.rule}</code>
            </>
          )}{" "}
          (source {since.source},{" "}
          <a href={`#/audit/${since.decisionId}`}>{utcSeconds(since.time)} UTC</a>).
        </p>
      )}
      {forbidden && (
        <p class="notice forbidden" id="forbidden-reason">
          <strong>
            <span aria-hidden="true">✕ </span>Approval forbidden.
          </strong>{" "}
          {forbidden}
        </p>
      )}

      <div class="entry-grid">
        <section aria-labelledby="file-title" class="panel">
          <h2 id="file-title">The file</h2>
          <dl class="facts">
            {row("File name", facts.fileName ?? missing)}
            {row("SHA-256", <span class="mono break">{facts.sha256 ?? c.sha256}</span>)}
            {row("Signature", facts.signatureStatus ?? missing)}
            {row(
              "Signer",
              facts.signer ? (
                <span>
                  {facts.signer}
                  {facts.thumbprint && <span class="mono muted small"> {facts.thumbprint}</span>}
                </span>
              ) : (
                missing
              ),
            )}
            {row(
              "Vendor",
              facts.vendor
                ? `${facts.vendor}${facts.product ? ` / ${facts.product}` : ""}`
                : missing,
            )}
            {row(
              "Detections",
              facts.detections ? (
                <span>
                  <strong>
                    {facts.detections.malicious} / {facts.detections.total}
                  </strong>{" "}
                  engines call it malicious
                </span>
              ) : (
                missing
              ),
            )}
            {facts.flaggedBy.length > 0 &&
              row(
                "Flagged by",
                <ul class="flagged">
                  {facts.flaggedBy.map((f) => (
                    <li key={f}>{f}</li>
                  ))}
                </ul>,
              )}
            {row("Trust score", facts.trustScore ?? missing)}
            {row(
              "First seen",
              facts.firstSeen ? (
                <span>
                  {relative(facts.firstSeen, now)}{" "}
                  <span class="mono small muted">{facts.firstSeen}</span>
                </span>
              ) : (
                missing
              ),
            )}
            {Object.keys(c.context).length > 0 &&
              row(
                "Case scope",
                Object.entries(c.context)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(", "),
              )}
          </dl>
        </section>

        <section aria-labelledby="vote-title" class="panel vote-panel">
          <h2 id="vote-title">Your vote</h2>
          {c.status === "open" ? (
            <VoteForm
              kase={c}
              policy={policy}
              forbidden={forbidden}
              onVoted={(answer, lines) => {
                rememberOutcome({ fileName: c.fileName ?? c.sha256, caseId: c.id, lines });
                void nextCase(c, answer.vote.voter).then(navigate);
              }}
            />
          ) : (
            <p class="notice">
              This case is {c.status}
              {c.outcome ? ` (${c.outcome})` : ""}: it takes no more votes.
              {c.exception && (
                <>
                  {" "}
                  It yielded <a href={`#/exceptions/${c.exception}`}>exception {c.exception}</a>.
                </>
              )}
            </p>
          )}
        </section>
      </div>

      <section aria-labelledby="reason-title" class="panel">
        <h2 id="reason-title">Why it is in review</h2>
        <p>
          {c.rule === null ? (
            "No rule matched: the rule set's default"
          ) : (
            <>
              Rule <code>{c.rule}</code>
            </>
          )}{" "}
          asked for review: “{c.reason}”.
        </p>
        {explain ? (
          <ExplainTree explain={explain} decidingRule={c.rule} />
        ) : (
          <p class="muted">
            The request did not ask for an explanation;{" "}
            <a href={`#/audit/${c.decisionId}`}>the decision's audit entry</a> recomputes it from
            the stored input.
          </p>
        )}
      </section>

      <section aria-labelledby="votes-title" class="panel">
        <h2 id="votes-title">Votes so far ({c.votes.length})</h2>
        {c.votes.length === 0 ? (
          <p class="muted">Nobody has voted yet.</p>
        ) : (
          <table class="entries">
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Voter</th>
                <th scope="col">Vote</th>
                <th scope="col">Justification</th>
                <th scope="col">Exception asked</th>
              </tr>
            </thead>
            <tbody>
              {c.votes.map((v) => (
                <tr key={v.id}>
                  <td class="mono nowrap">{utcSeconds(v.time)}</td>
                  <td>{v.voter}</td>
                  <td>
                    <VoteBadge vote={v.vote} />
                  </td>
                  <td class="reason">{v.justification}</td>
                  <td>
                    {v.exception
                      ? `${v.exception.kind}, ${v.exception.expires === null ? "never expiring" : `until ${utcMinute(v.exception.expires)}`}`
                      : "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <DecisionList
        id="requests-title"
        title={`Requests that joined it (${requests.length})`}
        rows={requests}
        empty="No request recorded."
      />
      <DecisionList
        id="others-title"
        title="The file's other decisions"
        rows={fileDecisions}
        empty="None: this case's requests are the file's only decisions."
      />

      <section aria-labelledby="input-title" class="panel">
        <details>
          <summary>
            <h2 id="input-title" class="inline">
              Input snapshot (JSON)
            </h2>
          </summary>
          {input === null ? (
            <p class="muted">Not stored (removed by retention).</p>
          ) : (
            // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard (WCAG 2.1.1)
            <pre class="json" tabIndex={0}>
              {JSON.stringify(input, null, 2)}
            </pre>
          )}
        </details>
      </section>
    </>
  );
}

export function VoteBadge({ vote }: { vote: "approve" | "reject" }) {
  return (
    <span class={`badge ${vote === "approve" ? "badge-allow" : "badge-deny"}`}>
      <span aria-hidden="true">{vote === "approve" ? "✓" : "✕"}</span> {vote.toUpperCase()}
    </span>
  );
}

function DecisionList({
  id,
  title,
  rows,
  empty,
}: {
  id: string;
  title: string;
  rows: DecisionBrief[];
  empty: string;
}) {
  return (
    <section aria-labelledby={id} class="panel">
      <h2 id={id}>{title}</h2>
      {rows.length === 0 ? (
        <p class="muted">{empty}</p>
      ) : (
        <table class="entries">
          <thead>
            <tr>
              <th scope="col">Time (UTC)</th>
              <th scope="col">Decision</th>
              <th scope="col">Rule</th>
              <th scope="col">Reason</th>
              <th scope="col">Source</th>
              <th scope="col">Requester</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.decisionId}>
                <td class="mono nowrap">
                  <a href={`#/audit/${d.decisionId}`}>{utcSeconds(d.time)}</a>
                </td>
                <td>
                  <DecisionBadge decision={d.decision} />
                </td>
                <td class="mono">{d.rule ?? <span class="muted">(default)</span>}</td>
                <td class="reason">{d.reason}</td>
                <td>{d.source}</td>
                <td>{d.requester ?? <span class="muted">none</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/**
 * Where to go after a vote: the next open case after this one (oldest first) that this voter has
 * not voted on, else the first such before it, else the queue.
 */
async function nextCase(current: CaseView, voter: string): Promise<string> {
  try {
    const { cases } = await reviewsApi.cases("/v1/reviews?limit=200");
    const todo = cases.filter(
      (k) => k.id !== current.id && !k.votes.some((v) => v.voter === voter),
    );
    const next = todo.find((k) => k.id > current.id) ?? todo[0];
    return next ? `#/reviews/${next.id}` : "#/reviews";
  } catch {
    // the queue says what failed
    return "#/reviews";
  }
}
