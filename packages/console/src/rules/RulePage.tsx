import { useEffect } from "preact/hooks";
import type { Hits, RuleInfo, RulesetStatus } from "../api.js";
import { utcSeconds } from "../audit/format.js";
import { useEscapeTo } from "../keys.js";
import { type RulesData, useRulesData } from "./data.js";
import { HitsChart } from "./HitsChart.js";
import { denseSeries, fromNow, rangeOf, SERIES, totalsOf } from "./model.js";
import {
  ActionBadge,
  Await,
  fileHash,
  RangePicker,
  relativePaths,
  ruleHash,
  rulesHash,
} from "./parts.js";

const PER: Record<string, string> = { "1h": "per hour", "6h": "per 6 hours", "1d": "per day" };

/** `#/rules/<name>`: one rule, its place, and its hits over the range as a chart and a table. */
export function RulePage({ name, params }: { name: string; params: URLSearchParams }) {
  const range = rangeOf(params);
  const data = useRulesData(range, { exceptions: false });
  useEffect(() => {
    document.title = `${name} · Rules · Clearance`;
  }, [name]);
  useEscapeTo(() => rulesHash("", { range: range.id }), [range.id]);
  return (
    <>
      <p class="back">
        <a href={rulesHash("", { range: range.id })}>← Rules</a>
      </p>
      <Await loaded={data.status} what="the rule set (GET /v1/ruleset)">
        {(status) => <Rule name={name} status={status} data={data} range={range} />}
      </Await>
    </>
  );
}

function Rule({
  name,
  status,
  data,
  range,
}: {
  name: string;
  status: RulesetStatus;
  data: RulesData;
  range: ReturnType<typeof rangeOf>;
}) {
  const live = status.rules.find((r) => r.name === name);
  const shadow = status.shadow?.rules.find((r) => r.name === name);
  const rule: RuleInfo | undefined = live ?? shadow;
  const rel = relativePaths(status);
  return (
    <>
      <div class="entry-head">
        <h1 id="rule-title" class="mono">
          {name}
        </h1>
        {rule && <ActionBadge rule={rule} />}
        <RangePicker current={range.id} hashFor={(r) => ruleHash(name, r)} />
      </div>
      {!rule && (
        <p class="notice" role="status">
          Neither the live nor the shadow rule set has a rule named <code>{name}</code> now; the
          audit log may still hold decisions it made.
        </p>
      )}
      {rule && (
        <section class="panel" aria-labelledby="rule-facts">
          <h2 id="rule-facts">The rule</h2>
          <dl class="facts">
            <dt>Action</dt>
            <dd>
              {rule.action}
              {rule.monitor ? " (monitor: it is recorded, never decides)" : ""}
            </dd>
            <dt>Priority</dt>
            <dd>{rule.priority}</dd>
            <dt>Where</dt>
            <dd>
              <a
                href={fileHash(
                  rel(rule.location.file),
                  rule.location.line,
                  range.id,
                  live ? undefined : "shadow",
                )}
                class="mono"
              >
                {rel(rule.location.file)}:{rule.location.line}
              </a>
            </dd>
            <dt>Rule sets</dt>
            <dd>
              {live ? "live" : "not live"}
              {status.shadow ? (shadow ? ", shadow" : ", not in the shadow rules") : ""}
            </dd>
            <dt>Expires</dt>
            <dd>
              {rule.expires
                ? `${utcSeconds(rule.expires)} UTC (${fromNow(rule.expires, data.now)})`
                : "never"}
            </dd>
            <dt>Decisions</dt>
            <dd>
              <a href={`#/audit?rule=${encodeURIComponent(name)}`}>
                Search the audit log for decisions by {name}
              </a>
            </dd>
          </dl>
        </section>
      )}
      <section class="panel" aria-labelledby="hits-title">
        <h2 id="hits-title">Hits over time</h2>
        <Await loaded={data.hits} what="the hits (GET /v1/ruleset/hits)">
          {(hits) => <RuleHitsView name={name} hits={hits} rule={rule} />}
        </Await>
      </section>
    </>
  );
}

function RuleHitsView({
  name,
  hits,
  rule,
}: {
  name: string;
  hits: Hits;
  rule: RuleInfo | undefined;
}) {
  const ofRule = hits.rules.find((r) => r.rule === name);
  const { times, values } = denseSeries(hits, ofRule);
  const t = totalsOf(hits, name);
  // A rule decides only its own action, and a monitor rule never decides: the chart draws what the
  // rule can have done (a rule no longer in the rules: everything), so no line is always zero.
  const kinds = SERIES.filter((s) => {
    if (!rule) return true;
    if (s.kind === "matched") return true;
    if (s.kind === "monitored") return rule.monitor || t.monitored > 0;
    if (s.kind === "disagreements") return !rule.monitor;
    return !rule.monitor && s.kind === rule.action;
  }).map((s) => s.kind);
  const per = PER[hits.bucket] ?? `per ${hits.bucket}`;
  const summary = `${t.matched} matched, ${t.deny} denied, ${t.review} sent to review, ${t.allow} allowed, ${t.monitored} monitor matches, ${t.disagreements} shadow disagreements`;
  return (
    <>
      <p>
        From {utcSeconds(hits.from)} to {utcSeconds(hits.to)} UTC: <strong>{summary}</strong>.
      </p>
      <HitsChart
        data={{ times, values, per, kinds }}
        label={`Chart of ${name}'s hits ${per}: ${summary}. The table below has every number.`}
      />
      <details class="hits-table">
        <summary>The numbers as a table ({hits.bucketCount} buckets)</summary>
        <table class="entries">
          <caption class="sr-only">
            Hits of {name} {per}, UTC
          </caption>
          <thead>
            <tr>
              <th scope="col">Bucket start (UTC)</th>
              {SERIES.filter((s) => kinds.includes(s.kind)).map((s) => (
                <th scope="col" class="num" key={s.kind}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {times.map((ts, i) => (
              <tr key={ts}>
                <th scope="row" class="nowrap">
                  {utcSeconds(new Date(ts * 1000).toISOString())}
                </th>
                {SERIES.filter((s) => kinds.includes(s.kind)).map((s) => (
                  <td class="num" key={s.kind}>
                    {values[s.kind][i]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  );
}
