import { useEffect, useMemo, useState } from "preact/hooks";
import { api, reviewsApi } from "../api.js";
import { FileName, shortHash } from "../audit/format.js";
import { ListMemory, Pager, usePagedList } from "../paged-list.js";
import { navigate } from "../router.js";
import {
  casesUrl,
  type QueueFilter,
  queueHash,
  readFailure,
  readQueueFilter,
  relative,
  span,
  utcMinute,
  votesLine,
} from "./logic.js";
import { LastOutcome } from "./outcome.js";

const PAGE_SIZE = 50;

/** The queue an analyst left to open a case: its address, page and row, to come back to. */
const queueLists = new ListMemory("#/reviews");

/** Where a case's "back" goes: the queue as it was left. */
export function queueBack(): string {
  return queueLists.back();
}

export function ReviewsPage({ params }: { params: URLSearchParams }) {
  const query = params.toString();
  const { filter, problems } = useMemo(
    () => readQueueFilter({ rule: params.get("rule"), olderThan: params.get("olderThan") }),
    [query],
  );
  useEffect(() => {
    document.title = "Reviews · Clearance";
  }, []);
  return (
    <>
      <h1 class="page-title">Review queue</h1>
      <LastOutcome />
      {/* a new address (Back, a shared link) mounts the form again with its own filter */}
      <QueueForm key={queueHash(filter)} filter={filter} urlProblems={problems} />
      {problems.length > 0 ? (
        <p class="notice" role="alert">
          This address has a filter the API would refuse; correct the fields marked above.
        </p>
      ) : (
        <Queue key={queueHash(filter)} filter={filter} />
      )}
    </>
  );
}

function QueueForm({
  filter,
  urlProblems,
}: {
  filter: QueueFilter;
  urlProblems: { field: "rule" | "olderThan"; message: string }[];
}) {
  const [rule, setRule] = useState(filter.rule ?? "");
  const [olderThan, setOlderThan] = useState(filter.olderThan ?? "");
  const [problems, setProblems] = useState(urlProblems);
  const [ruleNames, setRuleNames] = useState<string[]>([]);
  useEffect(() => {
    api.ruleset().then(
      (r) => setRuleNames([...new Set(r.rules.map((x) => x.name))].sort()),
      // suggestions only: the queue itself reports an API that does not answer
      () => setRuleNames([]),
    );
  }, []);
  const submit = (event: Event) => {
    event.preventDefault();
    const read = readQueueFilter({ rule, olderThan });
    setProblems(read.problems);
    if (read.problems.length === 0) navigate(queueHash(read.filter));
    else document.getElementById(`q-${read.problems[0]!.field}`)?.focus();
  };
  const problem = (field: "rule" | "olderThan") => problems.find((p) => p.field === field);
  const older = problem("olderThan");
  return (
    <form class="search" aria-label="Filter the review queue" onSubmit={submit}>
      <div class="fields">
        <div class="field">
          <label for="q-rule">Rule that asked for review</label>
          <input
            id="q-rule"
            type="text"
            class="mono"
            list="queue-rule-names"
            autoComplete="off"
            spellcheck={false}
            value={rule}
            onInput={(e) => setRule(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="q-olderThan">Open at least (2h, 3d, 1d12h)</label>
          <input
            id="q-olderThan"
            type="text"
            class="mono"
            autoComplete="off"
            spellcheck={false}
            value={olderThan}
            onInput={(e) => setOlderThan(e.currentTarget.value)}
            aria-invalid={older ? "true" : undefined}
            aria-describedby={older ? "q-olderThan-problem" : undefined}
          />
          {older && (
            <span class="field-problem" id="q-olderThan-problem">
              {older.message}
            </span>
          )}
        </div>
      </div>
      <datalist id="queue-rule-names">
        {ruleNames.map((n) => (
          <option key={n} value={n} />
        ))}
      </datalist>
      <div class="actions">
        <button type="submit" class="primary">
          Filter
        </button>
        <a class="button" href="#/reviews">
          Clear
        </a>
        <span class="hint" aria-hidden="true">
          <kbd>j</kbd> <kbd>k</kbd> move · <kbd>Enter</kbd> open · on a case: <kbd>a</kbd> approve ·{" "}
          <kbd>r</kbd> reject · <kbd>Esc</kbd> back
        </span>
      </div>
    </form>
  );
}

function Queue({ filter }: { filter: QueueFilter }) {
  const list = usePagedList({
    hash: queueHash(filter),
    memory: queueLists,
    load: (cursor) => reviewsApi.cases(casesUrl(filter, PAGE_SIZE, cursor)),
    rows: (page) => page.cases,
    nextCursor: (page) => page.nextCursor,
    describeError: readFailure,
    rowHash: (id) => `#/reviews/${id}`,
  });
  const { error, loading, depth, selected, select: setSelected, body } = list;
  const cases = list.answer?.cases ?? [];
  // ages and expiries are as of the page's arrival
  const now = useMemo(() => Date.now(), [list.answer]);
  if (error)
    return (
      <p class="notice error" role="alert">
        {error}
      </p>
    );
  return (
    <section aria-labelledby="queue-title" aria-busy={loading}>
      <div class="results-head">
        <h2 id="queue-title">Open cases, oldest first</h2>
        <Pager
          state={list.pager}
          label="Pages of cases"
          count={cases.length}
          noun={["case", "cases"]}
          reversed
        />
      </div>
      {!loading && cases.length === 0 ? (
        <p class="notice">
          No open case{filter.rule || filter.olderThan ? " matches this filter" : ""}: nothing is
          waiting for a reviewer. <a href="#/exceptions">See the exceptions</a> or{" "}
          <a href="#/audit">the audit log</a>.
        </p>
      ) : (
        <table class={loading ? "entries queue stale" : "entries queue"}>
          <caption class="sr-only">
            Open review cases, oldest first, page {depth}; j and k move, Enter opens
          </caption>
          <thead>
            <tr>
              <th scope="col">File name</th>
              <th scope="col">SHA-256</th>
              <th scope="col">Rule and reason</th>
              <th scope="col">Open for</th>
              <th scope="col">Expires</th>
              <th scope="col">Votes</th>
              <th scope="col">Waiting for</th>
            </tr>
          </thead>
          <tbody ref={body}>
            {cases.map((c, i) => (
              <tr
                key={c.id}
                class={i === selected ? "selected" : undefined}
                aria-current={i === selected ? "true" : undefined}
                onClick={() => setSelected(i)}
              >
                <td class="name">
                  <a class="open" href={`#/reviews/${c.id}`} onFocus={() => setSelected(i)}>
                    <FileName name={c.fileName} />
                  </a>
                  {c.approvalForbiddenBy.length > 0 && (
                    <span class="tag tag-forbidden">approval forbidden</span>
                  )}
                </td>
                <td class="mono nowrap" title={c.sha256}>
                  {shortHash(c.sha256)}
                </td>
                <td class="reason">
                  <code class="rule-cell">{c.rule ?? "(default)"}</code> {c.reason}
                </td>
                <td class="nowrap" title={`opened ${utcMinute(c.opened)}`}>
                  {span(now - Date.parse(c.opened))}
                </td>
                <td class="nowrap" title={utcMinute(c.expires)}>
                  {relative(c.expires, now)}
                </td>
                <td class="votes">{votesLine(c.votes)}</td>
                <td>{c.waitingFor ?? <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
