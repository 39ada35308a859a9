import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, describeError } from "../api.js";
import { typing } from "../keys.js";
import { Pager, usePagedList } from "../paged-list.js";
import {
  type AuditFilter,
  DECISIONS,
  exportUrl,
  FILTER_KEYS,
  type FieldProblem,
  type FilterKey,
  readFilter,
  SOURCES,
  searchHash,
  searchUrl,
  toLocalInput,
} from "../query.js";
import { navigate } from "../router.js";
import { DecisionBadge, FileName, shortHash, utcSeconds } from "./format.js";
import { auditLists } from "./state.js";

const PAGE_SIZE = 50;

const LABELS: Record<FilterKey, string> = {
  sha256: "SHA-256",
  fileName: "File name contains",
  decision: "Decision",
  rule: "Rule",
  requester: "Requester",
  source: "Source",
  from: "From (UTC)",
  to: "To (UTC, exclusive)",
};

/** `/`, `j`, `k` and Enter act on the page unless a form field has the keyboard. */
export function AuditPage({ params }: { params: URLSearchParams }) {
  const query = params.toString();
  const { filter, problems } = useMemo(
    () => readFilter(Object.fromEntries(FILTER_KEYS.map((k) => [k, params.get(k)]))),
    [query],
  );
  const hash = searchHash(filter);
  useEffect(() => {
    document.title = "Audit · Clearance";
  }, []);
  return (
    <>
      <h1 class="page-title">Audit log</h1>
      <SearchForm filter={filter} urlProblems={problems} />
      {problems.length > 0 ? (
        <p class="notice" role="alert">
          This address has a filter the API would refuse; correct the fields marked above.
        </p>
      ) : (
        <Results key={hash} filter={filter} />
      )}
    </>
  );
}

function SearchForm({ filter, urlProblems }: { filter: AuditFilter; urlProblems: FieldProblem[] }) {
  const initial = (): Record<FilterKey, string> =>
    Object.fromEntries(
      FILTER_KEYS.map((k) => [
        k,
        k === "from" || k === "to" ? toLocalInput(filter[k]) : (filter[k] ?? ""),
      ]),
    ) as Record<FilterKey, string>;
  const [values, setValues] = useState(initial);
  const [problems, setProblems] = useState<FieldProblem[]>(urlProblems);
  // a new address (Back, a shared link) shows its own filter
  useEffect(() => {
    setValues(initial());
    setProblems(urlProblems);
  }, [searchHash(filter), urlProblems.length]);

  // the live and shadow rules' names, offered as the rule field's suggestions; the log also holds
  // rules since removed, so any name may still be typed
  const [ruleNames, setRuleNames] = useState<string[]>([]);
  useEffect(() => {
    api.ruleset().then(
      (r) =>
        setRuleNames(
          [...new Set([...r.rules, ...(r.shadow?.rules ?? [])].map((x) => x.name))].sort(),
        ),
      // suggestions only: the search itself reports an API that does not answer
      () => setRuleNames([]),
    );
  }, []);

  const first = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "/" || typing(event.target) || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      first.current?.focus();
      first.current?.select();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  const set = (key: FilterKey) => (event: Event) =>
    setValues({ ...values, [key]: (event.currentTarget as HTMLInputElement).value });
  const problemOf = (key: FilterKey) => problems.find((p) => p.field === key);

  const submit = (event: Event) => {
    event.preventDefault();
    const read = readFilter(values);
    setProblems(read.problems);
    if (read.problems.length === 0) navigate(searchHash(read.filter));
    else document.getElementById(`f-${read.problems[0]!.field}`)?.focus();
  };

  const field = (key: FilterKey, control: preact.JSX.Element) => {
    const problem = problemOf(key);
    return (
      <div class={`field field-${key}`}>
        <label for={`f-${key}`}>{LABELS[key]}</label>
        {control}
        {problem && (
          <span class="field-problem" id={`f-${key}-problem`}>
            {problem.message}
          </span>
        )}
      </div>
    );
  };
  const describedBy = (key: FilterKey) => (problemOf(key) ? `f-${key}-problem` : undefined);
  const text = (key: FilterKey, extra: Record<string, unknown> = {}) =>
    field(
      key,
      <input
        id={`f-${key}`}
        name={key}
        type="text"
        value={values[key]}
        onInput={set(key)}
        aria-invalid={problemOf(key) ? "true" : undefined}
        aria-describedby={describedBy(key)}
        autoComplete="off"
        spellcheck={false}
        {...extra}
      />,
    );
  const select = (key: "decision" | "source", options: readonly string[]) =>
    field(
      key,
      <select
        id={`f-${key}`}
        name={key}
        value={values[key]}
        onChange={set(key)}
        aria-invalid={problemOf(key) ? "true" : undefined}
        aria-describedby={describedBy(key)}
      >
        <option value="">any</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>,
    );
  const time = (key: "from" | "to") =>
    field(
      key,
      // text, not datetime-local: the browser would show the analyst's locale (12/04/2026, 10:30
      // AM) where the log and the API speak UTC in ISO 8601
      <input
        id={`f-${key}`}
        name={key}
        type="text"
        class="mono"
        placeholder="2026-12-04T10:30"
        autoComplete="off"
        spellcheck={false}
        value={values[key]}
        onInput={set(key)}
        aria-invalid={problemOf(key) ? "true" : undefined}
        aria-describedby={describedBy(key)}
      />,
    );

  return (
    <form class="search" aria-label="Search the audit log" onSubmit={submit}>
      <div class="fields">
        {text("sha256", { ref: first, class: "mono", placeholder: "64 hex digits" })}
        {text("fileName")}
        {select("decision", DECISIONS)}
        {text("rule", { class: "mono", list: "rule-names" })}
        {text("requester", { placeholder: "key id or user:name" })}
        {select("source", SOURCES)}
        {time("from")}
        {time("to")}
      </div>
      <datalist id="rule-names">
        {ruleNames.map((n) => (
          <option key={n} value={n} />
        ))}
      </datalist>
      <div class="actions">
        <button type="submit" class="primary">
          Search
        </button>
        <a class="button" href="#/audit">
          Clear
        </a>
        <a class="button" href={exportUrl(filter)} download="clearance-audit.ndjson">
          Export this filter (NDJSON)
        </a>
        <span class="hint" aria-hidden="true">
          <kbd>/</kbd> search · <kbd>j</kbd> <kbd>k</kbd> move · <kbd>Enter</kbd> open
        </span>
      </div>
    </form>
  );
}

function Results({ filter }: { filter: AuditFilter }) {
  const list = usePagedList({
    hash: searchHash(filter),
    memory: auditLists,
    load: (cursor) => api.search(searchUrl(filter, PAGE_SIZE, cursor)),
    rows: (page) => page.entries,
    nextCursor: (page) => page.nextCursor,
    describeError,
    rowHash: (id) => `#/audit/${id}`,
  });
  const { error, loading, depth, selected, select: setSelected, body: table } = list;
  const entries = list.answer?.entries ?? [];
  const pager = (
    <Pager
      state={list.pager}
      label="Pages of results"
      count={entries.length}
      noun={["entry", "entries"]}
    />
  );

  if (error)
    return (
      <p class="notice error" role="alert">
        {error}
      </p>
    );
  return (
    <section aria-labelledby="results-title" aria-busy={loading}>
      <div class="results-head">
        <h2 id="results-title">Decisions, newest first</h2>
        {pager}
      </div>
      {!loading && entries.length === 0 ? (
        <p class="notice">No decision matches this filter.</p>
      ) : (
        <table class={loading ? "entries stale" : "entries"}>
          <caption class="sr-only">
            Audit entries matching the filter, page {depth}; j and k move, Enter opens
          </caption>
          <thead>
            <tr>
              <th scope="col">Time (UTC)</th>
              <th scope="col">Decision</th>
              <th scope="col">File name</th>
              <th scope="col">SHA-256</th>
              <th scope="col">Rule</th>
              <th scope="col">Reason</th>
              <th scope="col">Requester</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody ref={table}>
            {entries.map((e, i) => (
              <tr
                key={e.id}
                class={i === selected ? "selected" : undefined}
                aria-current={i === selected ? "true" : undefined}
                onClick={() => setSelected(i)}
              >
                <td class="mono nowrap">{utcSeconds(e.time)}</td>
                <td>
                  <DecisionBadge decision={e.decision} />
                </td>
                <td class="name">
                  <a class="open" href={`#/audit/${e.id}`} onFocus={() => setSelected(i)}>
                    <FileName name={e.fileName} />
                  </a>
                </td>
                <td class="mono nowrap" title={e.sha256}>
                  {shortHash(e.sha256)}
                </td>
                <td class="mono">{e.rule ?? <span class="muted">(default)</span>}</td>
                <td class="reason">{e.reason}</td>
                <td>{e.requester ?? <span class="muted">none</span>}</td>
                <td>{e.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {entries.length > 10 && <div class="results-foot">{pager}</div>}
    </section>
  );
}
