import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { type ExceptionView, reviewsApi, signedInAs } from "../api.js";
import { shortHash } from "../audit/format.js";
import { useEscapeTo } from "../keys.js";
import { searchHash } from "../query.js";
import {
  readFailure,
  refusal,
  relative,
  rememberVoter,
  utcMinute,
  votingAs,
} from "../reviews/logic.js";
import { navigate } from "../router.js";
import {
  checkRevoke,
  contextText,
  EXCEPTION_TABS,
  type ExceptionFilter,
  exceptionsHash,
  exceptionsUrl,
  expiringSoon,
  KINDS,
  readExceptionFilter,
  scopeText,
  TAB_LABELS,
  tabRows,
} from "./logic.js";

const storage = (): Storage | undefined => {
  try {
    return localStorage;
  } catch {
    return undefined;
  }
};

let lastList = "#/exceptions";

export function ExceptionsPage({ params }: { params: URLSearchParams }) {
  const query = params.toString();
  const { filter, problems } = useMemo(() => readExceptionFilter(params), [query]);
  const hash = exceptionsHash(filter);
  useEffect(() => {
    document.title = "Exceptions · Clearance";
    lastList = hash;
  }, [hash]);
  return (
    <>
      <h1 class="page-title">Exceptions</h1>
      <nav class="tabs" aria-label="Exceptions by state">
        {EXCEPTION_TABS.map((t) => (
          <a
            key={t}
            href={exceptionsHash({ ...filter, tab: t })}
            aria-current={filter.tab === t ? "page" : undefined}
          >
            {TAB_LABELS[t]}
          </a>
        ))}
      </nav>
      <p class="muted small tab-note">
        {filter.tab === "soon"
          ? "Active exceptions whose expiry is less than 7 days from now (those that never expire are not listed), newest first."
          : filter.tab === "active"
            ? "Exceptions in force, newest first: the rules read them when the files they cover are decided."
            : `Exceptions ${filter.tab}, newest first, read from the audit log.`}
      </p>
      {/* a new address (a tab, Back) mounts the form again with its own filter */}
      <ExceptionFilterForm key={hash} filter={filter} problems={problems} />
      {problems.length > 0 ? (
        <p class="notice" role="alert">
          This address has a filter the API would refuse; correct the fields marked above.
        </p>
      ) : (
        <ExceptionList key={hash} filter={filter} />
      )}
    </>
  );
}

function ExceptionFilterForm({
  filter,
  problems,
}: {
  filter: ExceptionFilter;
  problems: { field: "kind" | "sha256"; message: string }[];
}) {
  const [kind, setKind] = useState<string>(filter.kind ?? "");
  const [sha256, setSha256] = useState(filter.sha256 ?? "");
  const [shown, setShown] = useState(problems);
  const submit = (event: Event) => {
    event.preventDefault();
    const params = new URLSearchParams({ tab: filter.tab, kind, sha256 });
    const read = readExceptionFilter(params);
    setShown(read.problems);
    if (read.problems.length === 0) navigate(exceptionsHash(read.filter));
    else document.getElementById(`x-${read.problems[0]!.field}`)?.focus();
  };
  const sha = shown.find((p) => p.field === "sha256");
  return (
    <form class="search" aria-label="Filter the exceptions" onSubmit={submit}>
      <div class="fields">
        <div class="field">
          <label for="x-kind">Kind</label>
          <select id="x-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            <option value="">any</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </div>
        <div class="field field-sha256">
          <label for="x-sha256">SHA-256 (file exceptions)</label>
          <input
            id="x-sha256"
            type="text"
            class="mono"
            placeholder="64 hex digits"
            autoComplete="off"
            spellcheck={false}
            value={sha256}
            onInput={(e) => setSha256(e.currentTarget.value)}
            aria-invalid={sha ? "true" : undefined}
            aria-describedby={sha ? "x-sha256-problem" : undefined}
          />
          {sha && (
            <span class="field-problem" id="x-sha256-problem">
              {sha.message}
            </span>
          )}
        </div>
      </div>
      <div class="actions">
        <button type="submit" class="primary">
          Filter
        </button>
        <a class="button" href={exceptionsHash({ tab: filter.tab })}>
          Clear
        </a>
      </div>
    </form>
  );
}

export function StatusBadge({ status }: { status: ExceptionView["status"] }) {
  return (
    <span class={`badge ${status === "approved" ? "badge-allow" : "badge-deny"}`}>
      <span aria-hidden="true">{status === "approved" ? "✓" : "✕"}</span> {status.toUpperCase()}
    </span>
  );
}

/** What it covers, a hash shortened for a table (the whole in the cell's title and on its page). */
function shortScope(e: ExceptionView): string {
  if (e.kind === "file") return `file ${shortHash(e.scope.sha256 ?? "?")}`;
  if (e.kind === "signer") return `certificate ${shortHash(e.scope.signer ?? "?")}`;
  return scopeText(e);
}

function Expires({ e, now }: { e: ExceptionView; now: number }) {
  if (e.expires === null) return <span>never</span>;
  // an ended exception's expiry is no longer ahead of it: say when it was due, not "in 3 d"
  if (e.state === "revoked")
    return (
      <span class="muted">
        was due <span class="mono small">{utcMinute(e.expires)}</span>
      </span>
    );
  return (
    <span>
      {relative(e.expires, now)}
      {expiringSoon(e, now) && <span class="tag tag-soon">within 7 days</span>}
      <br />
      <span class="mono small muted">{utcMinute(e.expires)}</span>
    </span>
  );
}

function Origin({ e }: { e: ExceptionView }) {
  if (e.case) return <a href={`#/reviews/${e.case}`}>review case</a>;
  return <span>created directly by {e.createdBy ?? "?"}</span>;
}

function ExceptionList({ filter }: { filter: ExceptionFilter }) {
  const [list, setList] = useState<ExceptionView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    let live = true;
    reviewsApi.exceptions(exceptionsUrl(filter)).then(
      (a) => {
        if (!live) return;
        setNow(Date.now());
        setList(a.exceptions);
      },
      (e: unknown) => live && setError(readFailure(e)),
    );
    return () => {
      live = false;
    };
  }, []);
  if (error)
    return (
      <p class="notice error" role="alert">
        {error}
      </p>
    );
  if (!list) return <p role="status">Loading exceptions…</p>;
  const rows = tabRows(list, filter.tab, now);
  if (rows.length === 0)
    return <p class="notice">No exception in “{TAB_LABELS[filter.tab]}” matches this filter.</p>;
  return (
    <section aria-labelledby="exceptions-title">
      <h2 id="exceptions-title">
        {rows.length} {rows.length === 1 ? "exception" : "exceptions"}
      </h2>
      <table class="entries exceptions">
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Covers</th>
            <th scope="col">Status</th>
            <th scope="col">Created (UTC)</th>
            <th scope="col">Expires</th>
            <th scope="col">Approvers</th>
            <th scope="col">Justification</th>
            <th scope="col">From</th>
            <th scope="col">Context</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => (
            <tr key={e.id}>
              <td>{e.kind}</td>
              <td class="mono covers" title={scopeText(e)}>
                <a class="open" href={`#/exceptions/${e.id}`}>
                  {shortScope(e)}
                </a>
              </td>
              <td>
                <StatusBadge status={e.status} />
              </td>
              <td class="mono nowrap">{utcMinute(e.created).replace(" UTC", "")}</td>
              <td class="nowrap">
                <Expires e={e} now={now} />
              </td>
              <td>{e.approvers.join(", ")}</td>
              <td class="reason">{e.justification}</td>
              <td>
                <Origin e={e} />
              </td>
              <td>{contextText(e.context)}</td>
              <td>
                {e.state}
                {e.ended && (
                  <span class="small muted">
                    {" "}
                    {utcMinute(e.ended.time)}
                    {e.ended.by ? ` by ${e.ended.by}` : ""}
                  </span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function ExceptionPage({ id }: { id: string }) {
  const [e, setE] = useState<ExceptionView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  // revoked on this page: the form stays, to show what the revocation did
  const [revokedHere, setRevokedHere] = useState(false);
  // the file name, which an exception does not carry: its case's, when it came from one
  const [fileName, setFileName] = useState<string | null>(null);
  const caseId = e?.case ?? null;
  useEffect(() => {
    if (caseId === null) return;
    let live = true;
    reviewsApi.case(caseId).then(
      (d) => live && setFileName(d.case.fileName),
      // a fact beside the exception: without it the page still says everything else
      () => {},
    );
    return () => {
      live = false;
    };
  }, [caseId]);
  useEffect(() => {
    let live = true;
    reviewsApi.exception(id).then(
      (x) => {
        if (!live) return;
        setNow(Date.now());
        setE(x);
      },
      (err: unknown) => live && setError(readFailure(err)),
    );
    return () => {
      live = false;
    };
  }, [id]);
  useEffect(() => {
    document.title = `Exception ${id} · Clearance`;
    if (e) document.getElementById("exception-title")?.focus();
  }, [e !== null]);
  useEscapeTo(() => lastList);
  const back = (
    <p class="back">
      <a href={lastList}>← Back to the exceptions</a> <span class="hint">(Esc)</span>
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
  if (!e)
    return (
      <>
        {back}
        <p role="status">Loading exception {id}…</p>
      </>
    );
  const row = (term: string, value: preact.ComponentChildren) => (
    <>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </>
  );
  return (
    <article class="exception" aria-labelledby="exception-title">
      {back}
      <header class="entry-head">
        <StatusBadge status={e.status} />
        <h1 id="exception-title" tabIndex={-1}>
          {e.kind} exception <span class="mono small">{e.id}</span>
        </h1>
        <span class={`tag case-status state-${e.state}`}>{e.state}</span>
      </header>
      <div class="entry-grid">
        <section aria-labelledby="exc-facts" class="panel">
          <h2 id="exc-facts">The exception</h2>
          <dl class="facts">
            {fileName !== null && row("File name (its case)", fileName)}
            {row("Kind", e.kind)}
            {row("Covers", <span class="mono break">{scopeText(e)}</span>)}
            {row("Status", <StatusBadge status={e.status} />)}
            {row("State", e.state)}
            {row("Created", <span class="mono">{utcMinute(e.created)}</span>)}
            {row("Expires", <Expires e={e} now={now} />)}
            {row("Approvers", e.approvers.join(", "))}
            {row("Justification", e.justification)}
            {row("From", <Origin e={e} />)}
            {row("Context", contextText(e.context))}
            {e.ended &&
              row(
                "Ended",
                `${utcMinute(e.ended.time)}${e.ended.by ? ` by ${e.ended.by}` : " (expired)"}${e.ended.justification ? `: ${e.ended.justification}` : ""}`,
              )}
            {e.scope.sha256 &&
              row(
                "Decisions",
                <a href={searchHash({ sha256: e.scope.sha256 })}>every decision on this file</a>,
              )}
          </dl>
        </section>
        <section aria-labelledby="revoke-title" class="panel">
          <h2 id="revoke-title">Revoke</h2>
          {e.state === "active" || revokedHere ? (
            <RevokeForm
              exception={e}
              onRevoked={(ended) => {
                setRevokedHere(true);
                setE(ended);
              }}
            />
          ) : (
            <p class="muted">This exception is {e.state}: there is nothing to revoke.</p>
          )}
        </section>
      </div>
    </article>
  );
}

function RevokeForm({
  exception,
  onRevoked,
}: {
  exception: ExceptionView;
  onRevoked: (e: ExceptionView) => void;
}) {
  const identity = useMemo(() => votingAs(storage(), signedInAs()), []);
  const [by, setBy] = useState(identity.name);
  const [justification, setJustification] = useState("");
  const [problems, setProblems] = useState<{ field: string; message: string }[]>([]);
  const [confirming, setConfirming] = useState(false);
  const [refused, setRefused] = useState<string | null>(null);
  const [done, setDone] = useState<ExceptionView | null>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const resultRef = useRef<HTMLDivElement>(null);
  // moved as it renders: a deferred effect waits for a paint that headless Chromium may not make
  useLayoutEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);
  useLayoutEffect(() => {
    if (refused || done) resultRef.current?.focus();
  }, [refused, done]);

  const ask = (event: Event) => {
    event.preventDefault();
    setRefused(null);
    const checked = checkRevoke(justification, by);
    setProblems(checked.problems);
    if (!checked.body) {
      document.getElementById(`r-${checked.problems[0]!.field}`)?.focus();
      return;
    }
    setConfirming(true);
  };
  const revoke = async () => {
    const checked = checkRevoke(justification, by);
    if (!checked.body) return;
    if (identity.editable) rememberVoter(storage(), by);
    try {
      const ended = await reviewsApi.revoke(exception.id, checked.body);
      setDone(ended);
      setConfirming(false);
      onRevoked(ended);
    } catch (error) {
      setConfirming(false);
      setRefused(refusal(error));
    }
  };
  if (done)
    return (
      <div class="notice done" role="status" tabIndex={-1} ref={resultRef}>
        <strong>Revoked</strong> {done.ended ? utcMinute(done.ended.time) : ""}
        {done.ended?.by ? ` by ${done.ended.by}` : ""}: {done.ended?.justification}.{" "}
        {done.scope.sha256 && (
          <a href={searchHash({ sha256: done.scope.sha256 })}>
            See the file's decisions, decided again without it
          </a>
        )}
      </div>
    );
  const problem = (field: string) => problems.find((p) => p.field === field);
  const field = (
    id: string,
    label: string,
    control: preact.JSX.Element,
    hint?: string,
  ): preact.JSX.Element => (
    <div class="field">
      <label for={`r-${id}`}>{label}</label>
      {control}
      {hint && (
        <span class="small muted" id={`r-${id}-hint`}>
          {hint}
        </span>
      )}
      {problem(id) && (
        <span class="field-problem" id={`r-${id}-problem`}>
          {problem(id)!.message}
        </span>
      )}
    </div>
  );
  const describedBy = (id: string, hint: boolean) =>
    [problem(id) ? `r-${id}-problem` : "", hint ? `r-${id}-hint` : ""].filter(Boolean).join(" ") ||
    undefined;
  return (
    <form class="vote" aria-label="Revoke this exception" onSubmit={ask} noValidate>
      <p class="small">
        Revoking ends the exception now.{" "}
        {exception.kind === "file"
          ? "Its file is decided again at once without it."
          : "Files it covered are decided without it from their next request."}
      </p>
      {field(
        "by",
        "Revoking as",
        <input
          id="r-by"
          type="text"
          autoComplete="username"
          spellcheck={false}
          value={by}
          readOnly={!identity.editable}
          onInput={(ev) => setBy(ev.currentTarget.value)}
          aria-invalid={problem("by") ? "true" : undefined}
          aria-describedby={describedBy("by", true)}
        />,
        identity.editable
          ? "This server has no API keys: every revocation names its author."
          : "Signed in: the revocation is recorded under your sign-in.",
      )}
      {field(
        "justification",
        "Justification (required)",
        <textarea
          id="r-justification"
          rows={3}
          value={justification}
          onInput={(ev) => setJustification(ev.currentTarget.value)}
          aria-invalid={problem("justification") ? "true" : undefined}
          aria-describedby={describedBy("justification", false)}
        />,
      )}
      {confirming ? (
        <div class="confirm">
          <p id="confirm-text">
            <strong>Revoke this {exception.kind} exception</strong> ({scopeText(exception)})? This
            cannot be undone.
          </p>
          <div class="actions">
            <button type="button" class="danger" ref={confirmRef} onClick={revoke}>
              Yes, revoke it
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <div class="actions">
          <button type="submit" class="primary">
            Revoke…
          </button>
        </div>
      )}
      {refused && (
        <div class="notice error" role="alert" tabIndex={-1} ref={resultRef}>
          {refused}
        </div>
      )}
    </form>
  );
}
