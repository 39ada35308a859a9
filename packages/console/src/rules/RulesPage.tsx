import { useEffect } from "preact/hooks";
import type {
  DiagnosticData,
  ExceptionView,
  Hits,
  RuleFiles,
  RuleInfo,
  RulesetStatus,
  RulesStatus,
} from "../api.js";
import { utcSeconds } from "../audit/format.js";
import { answerOf, type RulesData, useRulesData } from "./data.js";
import { FileView } from "./FileView.js";
import {
  denseSeries,
  EXPIRING_DAYS,
  exceptionScope,
  expiringExceptions,
  expiringRules,
  fromNow,
  neverMatched,
  type RangeId,
  rangeOf,
  type SortKey,
  sortRules,
  totalsOf,
} from "./model.js";
import {
  ActionBadge,
  Await,
  fileHash,
  RangePicker,
  relativePaths,
  ruleHash,
  rulesHash,
} from "./parts.js";

const SORTS: { id: SortKey; label: string }[] = [
  { id: "hits", label: "Hits (most matched first)" },
  { id: "name", label: "Name" },
  { id: "priority", label: "Priority (highest first)" },
];

/** `#/rules`: the live and shadow rule sets, their rules with hits, and what needs a look. */
export function RulesPage({ params }: { params: URLSearchParams }) {
  const range = rangeOf(params);
  const data = useRulesData(range);
  const file = params.get("file");
  useEffect(() => {
    document.title = file ? `${file} · Rules · Clearance` : "Rules · Clearance";
  }, [file]);
  if (file !== null)
    return (
      <FileView
        data={data}
        path={file}
        line={Number(params.get("line")) || undefined}
        set={params.get("set") === "shadow" ? "shadow" : "live"}
        range={range.id}
      />
    );
  const sort = (SORTS.find((s) => s.id === params.get("sort")) ?? SORTS[0]!).id;
  return (
    <>
      <div class="results-head">
        <h1 class="page-title">Rules</h1>
        <RangePicker
          current={range.id}
          hashFor={(r) => rulesHash("", { range: r, sort: sort === "hits" ? undefined : sort })}
        />
      </div>
      <Await loaded={data.status} what="the rule set (GET /v1/ruleset)">
        {(status) => <Overview status={status} data={data} range={range.id} sort={sort} />}
      </Await>
    </>
  );
}

function Overview({
  status,
  data,
  range,
  sort,
}: {
  status: RulesetStatus;
  data: RulesData;
  range: RangeId;
  sort: SortKey;
}) {
  const hits = answerOf(data.hits);
  const files = answerOf(data.files);
  const rel = relativePaths(status);
  const shadowNames = new Set(status.shadow?.rules.map((r) => r.name));
  const rules = sortRules(status.rules, hits, sort);
  const counts = { allow: 0, deny: 0, review: 0, monitor: 0 };
  for (const r of status.rules) {
    counts[r.action]++;
    if (r.monitor) counts.monitor++;
  }
  return (
    <>
      <div class="rules-summary">
        <RevisionPanel title="Live rule set" status={status} />
        {status.shadow ? (
          <RevisionPanel
            title="Shadow rule set"
            status={status.shadow}
            onlyHere={status.shadow.rules.filter(
              (r) => !status.rules.some((l) => l.name === r.name),
            )}
            range={range}
          />
        ) : (
          <section class="panel" aria-labelledby="shadow-none">
            <h2 id="shadow-none">Shadow rule set</h2>
            <p class="muted">None configured: decisions are not compared with other rules.</p>
          </section>
        )}
        <section class="panel" aria-labelledby="rule-counts">
          <h2 id="rule-counts">Live rules</h2>
          <dl class="facts">
            <dt>Rules</dt>
            <dd>{status.rules.length}</dd>
            <dt>By action</dt>
            <dd>
              {counts.deny} deny, {counts.review} review, {counts.allow} allow
            </dd>
            <dt>Monitor rules</dt>
            <dd>{counts.monitor}</dd>
            <dt>Files</dt>
            <dd>{files ? files.files.length : "…"}</dd>
          </dl>
        </section>
      </div>

      {status.lastError && (
        <ReloadErrorPanel
          title="Last reload failed"
          error={status.lastError}
          rel={rel}
          range={range}
          files={files}
        />
      )}
      {status.shadow?.lastError && (
        <ReloadErrorPanel
          title="Last reload of the shadow rules failed"
          error={status.shadow.lastError}
          rel={rel}
          range={range}
          files={files}
        />
      )}

      <section aria-labelledby="rules-table-title">
        <div class="results-head">
          <h2 id="rules-table-title">Live rules and their hits</h2>
          <SortPicker current={sort} range={range} />
        </div>
        <Await loaded={data.hits} what="the hits (GET /v1/ruleset/hits)">
          {(h) => (
            <p class="muted small">
              Decisions from {utcSeconds(h.from)} to {utcSeconds(h.to)} UTC, counted per rule.
              "Matched" counts every decision the rule matched; the decision columns count those it
              decided.
            </p>
          )}
        </Await>
        {/* a narrow window scrolls the table in its own box, which the keyboard can scroll too */}
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable to be scrolled without a mouse */}
        <section class="table-scroll" aria-label="Rules table" tabIndex={0}>
          <table class="entries rules-table">
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Action</th>
                <th scope="col">Flags</th>
                <th scope="col" class="num">
                  Priority
                </th>
                <th scope="col">Where</th>
                <th scope="col" class="num">
                  Matched
                </th>
                <th scope="col">
                  <span class="sr-only">
                    Matched over the range (a line; the numbers are on the rule's page)
                  </span>
                  <span aria-hidden="true">Trend</span>
                </th>
                <th scope="col" class="num">
                  Denied
                </th>
                <th scope="col" class="num">
                  Review
                </th>
                <th scope="col" class="num">
                  Allowed
                </th>
                <th scope="col" class="num">
                  Monitor
                </th>
                {status.shadow && (
                  <th scope="col" class="num">
                    Shadow disagreed
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {rules.map((r) => {
                const t = totalsOf(hits, r.name);
                const n = (v: number) => (hits ? v : "…");
                const z = (v: number) => (hits && v === 0 ? "num zero" : "num");
                return (
                  <tr key={r.name}>
                    <th scope="row" class="rule-cell">
                      <a href={ruleHash(r.name, range)} class="mono">
                        {r.name}
                      </a>
                    </th>
                    <td>
                      <ActionBadge rule={r} />
                    </td>
                    <td class="flags">
                      {r.monitor && <span class="flag">monitor</span>}
                      {status.shadow && !shadowNames.has(r.name) && (
                        <span class="flag">not in shadow</span>
                      )}
                      {r.expires && (
                        <span class="flag">expires {utcSeconds(r.expires).slice(0, 16)} UTC</span>
                      )}
                    </td>
                    <td class="num">{r.priority}</td>
                    <td class="nowrap">
                      <a
                        href={fileHash(rel(r.location.file), r.location.line, range)}
                        class="mono small"
                      >
                        {rel(r.location.file)}:{r.location.line}
                      </a>
                    </td>
                    <td class={t.matched ? "num strong" : z(0)}>{n(t.matched)}</td>
                    <td class="spark-cell">{hits && <Sparkline hits={hits} rule={r} />}</td>
                    <td class={z(t.deny)}>{n(t.deny)}</td>
                    <td class={z(t.review)}>{n(t.review)}</td>
                    <td class={z(t.allow)}>{n(t.allow)}</td>
                    <td class={z(t.monitored)}>{n(t.monitored)}</td>
                    {status.shadow && <td class={z(t.disagreements)}>{n(t.disagreements)}</td>}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
        {hits && <DefaultRow hits={hits} />}
      </section>

      <div class="rules-lists">
        <section class="panel" aria-labelledby="never-title">
          <h2 id="never-title">Never matched in this range</h2>
          <Await loaded={data.hits} what="the hits">
            {(h) => {
              const never = neverMatched(status.rules, h);
              return never.length === 0 ? (
                <p class="muted">Every live rule matched at least one decision.</p>
              ) : (
                <ul class="plain">
                  {never.map((r) => (
                    <li key={r.name}>
                      <a href={ruleHash(r.name, range)} class="mono">
                        {r.name}
                      </a>{" "}
                      <span class="muted small">
                        {r.action}
                        {r.monitor ? ", monitor" : ""} · {rel(r.location.file)}:{r.location.line}
                      </span>
                    </li>
                  ))}
                </ul>
              );
            }}
          </Await>
        </section>
        <ExpiringPanel status={status} data={data} range={range} />
        <section class="panel" aria-labelledby="files-title">
          <h2 id="files-title">Rule files</h2>
          <Await loaded={data.files} what="the rule files (GET /v1/ruleset/files)">
            {(f) => <FileList files={f} rel={rel} range={range} />}
          </Await>
        </section>
      </div>
    </>
  );
}

/**
 * A rule's matches (a monitor rule's monitor matches) over the range as a small line: the shape at
 * a glance, hidden from screen readers (the numbers are in the row and on the rule's page).
 */
function Sparkline({ hits, rule }: { hits: Hits; rule: RuleInfo }) {
  const of = hits.rules.find((h) => h.rule === rule.name);
  if (!of) return null;
  const { values } = denseSeries(hits, of);
  const ys = rule.monitor ? values.monitored : values.matched;
  const max = Math.max(1, ...ys);
  const w = 80;
  const h = 18;
  const step = ys.length > 1 ? w / (ys.length - 1) : w;
  const points = ys.map(
    (y, i) => `${(i * step).toFixed(1)},${(h - 1 - (y / max) * (h - 2)).toFixed(1)}`,
  );
  return (
    <svg
      class="spark"
      width={w}
      height={h}
      viewBox={`0 0 ${w} ${h}`}
      aria-hidden="true"
      focusable="false"
    >
      <polyline points={points.join(" ")} />
    </svg>
  );
}

function RevisionPanel({
  title,
  status,
  onlyHere,
  range,
}: {
  title: string;
  status: RulesStatus;
  /** the shadow's rules the live rule set does not have */
  onlyHere?: RulesStatus["rules"];
  range?: RangeId;
}) {
  const id = title.toLowerCase().replace(/\W+/g, "-");
  return (
    <section class="panel" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      <dl class="facts">
        <dt>Revision</dt>
        <dd class="mono">{status.revision}</dd>
        <dt>Commit</dt>
        <dd class="mono">
          {status.commit
            ? `${status.commit.sha.slice(0, 12)}${status.commit.dirty ? " (with uncommitted changes)" : ""}`
            : "not in git"}
        </dd>
        <dt>Loaded</dt>
        <dd>{utcSeconds(status.loadedAt)} UTC</dd>
        <dt>Reloads</dt>
        <dd>
          {status.reloads} since start ·{" "}
          {status.watching ? "watching the files" : "not watching the files"}
        </dd>
        <dt>Last reload</dt>
        <dd>{status.lastError ? <strong>failed (see below)</strong> : "no error"}</dd>
        {onlyHere && (
          <>
            <dt>Rules</dt>
            <dd>
              {status.rules.length}
              {onlyHere.length === 0 ? ", all of them live too" : ", not live: "}
              {onlyHere.map((r, i) => (
                <span key={r.name}>
                  {i > 0 && ", "}
                  <a href={ruleHash(r.name, range ?? "24h")} class="mono">
                    {r.name}
                  </a>
                </span>
              ))}
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

function ReloadErrorPanel({
  title,
  error,
  rel,
  range,
  files,
}: {
  title: string;
  error: NonNullable<RulesStatus["lastError"]>;
  rel: (p: string) => string;
  range: RangeId;
  files: RuleFiles | undefined;
}) {
  // the live and the shadow rule set may both have one: an id each
  const id = `${title.toLowerCase().replace(/\W+/g, "-")}-title`;
  const known = new Set(files?.files.map((f) => f.path));
  const diagnostics: DiagnosticData[] = error.diagnostics ?? [];
  return (
    <section class="panel reload-error" aria-labelledby={id} role="alert">
      <h2 id={id}>
        {title} at {utcSeconds(error.at)} UTC
      </h2>
      <p>
        The rules that failed to compile were not loaded: the rule set above is still the one
        deciding. {diagnostics.length || error.messages.length} error
        {(diagnostics.length || error.messages.length) === 1 ? "" : "s"}:
      </p>
      {diagnostics.length === 0 ? (
        <pre class="code-frame">{error.messages.join("\n")}</pre>
      ) : (
        diagnostics.map((d, i) => (
          <div class="diagnostic" key={i}>
            <p>
              <span class={`severity severity-${d.severity}`}>
                {d.severity === "error" ? "Error" : d.severity === "warning" ? "Warning" : "Note"}
              </span>{" "}
              <code>{d.code}</code>: {d.message} —{" "}
              {known.has(rel(d.file)) ? (
                <a href={fileHash(rel(d.file), d.line, range)} class="mono">
                  {rel(d.file)}:{d.line}:{d.column}
                </a>
              ) : (
                <span class="mono">
                  {rel(d.file)}:{d.line}:{d.column}
                </span>
              )}
            </p>
            <pre class="code-frame">{d.frame}</pre>
          </div>
        ))
      )}
    </section>
  );
}

function SortPicker({ current, range }: { current: SortKey; range: RangeId }) {
  return (
    <div class="field sort-field">
      <label for="rules-sort">Sort by</label>
      <select
        id="rules-sort"
        value={current}
        onChange={(e) => {
          const v = (e.currentTarget as HTMLSelectElement).value;
          location.hash = rulesHash("", { range, sort: v === "hits" ? undefined : v });
        }}
      >
        {SORTS.map((s) => (
          <option key={s.id} value={s.id}>
            {s.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Decisions no rule decided: the rule set's default, which has no row of its own. */
function DefaultRow({ hits }: { hits: Hits }) {
  const d = hits.rules.find((r) => r.rule === null);
  if (!d) return null;
  return (
    <p class="muted small">
      Decided by the default (no rule matched): {d.totals.deny} denied, {d.totals.review} sent to
      review, {d.totals.allow} allowed.
    </p>
  );
}

function ExpiringPanel({
  status,
  data,
  range,
}: {
  status: RulesetStatus;
  data: RulesData;
  range: RangeId;
}) {
  const rules = expiringRules(status.rules, data.now);
  return (
    <section class="panel" aria-labelledby="expiring-title">
      <h2 id="expiring-title">Expiring within {EXPIRING_DAYS} days</h2>
      <h3>Rules</h3>
      {rules.length === 0 ? (
        <p class="muted">No live rule expires within {EXPIRING_DAYS} days.</p>
      ) : (
        <ul class="plain">
          {rules.map((r) => (
            <li key={r.name}>
              <a href={ruleHash(r.name, range)} class="mono">
                {r.name}
              </a>{" "}
              {Date.parse(r.expires!) <= data.now ? "expired" : "expires"} {utcSeconds(r.expires!)}{" "}
              UTC <span class="muted">({fromNow(r.expires!, data.now)})</span>
            </li>
          ))}
        </ul>
      )}
      <h3>Exceptions</h3>
      <Await loaded={data.exceptions} what="the exceptions (GET /v1/exceptions)">
        {(list: ExceptionView[]) => {
          const soon = expiringExceptions(list, data.now);
          return soon.length === 0 ? (
            <p class="muted">No exception in force expires within {EXPIRING_DAYS} days.</p>
          ) : (
            <ul class="plain">
              {soon.map((e) => (
                <li key={e.id}>
                  <a href={`#/exceptions/${encodeURIComponent(e.id)}`} class="mono small">
                    {e.id}
                  </a>{" "}
                  <span class="break">{exceptionScope(e)}</span>, expires {utcSeconds(e.expires!)}{" "}
                  UTC <span class="muted">({fromNow(e.expires!, data.now)})</span>
                </li>
              ))}
            </ul>
          );
        }}
      </Await>
    </section>
  );
}

function FileList({
  files,
  rel,
  range,
}: {
  files: RuleFiles;
  rel: (p: string) => string;
  range: RangeId;
}) {
  const lines = (text: string) => text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  return (
    <>
      <ul class="plain">
        {files.files.map((f) => (
          <li key={f.path}>
            <a href={fileHash(f.path, undefined, range)} class="mono">
              {rel(f.path)}
            </a>{" "}
            <span class="muted small">{lines(f.text)} lines</span>
          </li>
        ))}
      </ul>
      {files.shadow && (
        <>
          <h3>Shadow rule files</h3>
          <ul class="plain">
            {files.shadow.files.map((f) => (
              <li key={f.path}>
                <a href={fileHash(f.path, undefined, range, "shadow")} class="mono">
                  {rel(f.path)}
                </a>{" "}
                <span class="muted small">{lines(f.text)} lines</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}
