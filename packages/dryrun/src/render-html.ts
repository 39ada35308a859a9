/**
 * The dry-run's HTML report (`--report out.html`): one self-contained page, readable offline.
 *
 * Everything is inline: the CSS, the script, and the charts, drawn here as SVG (no chart library):
 * decisions by outcome (candidate beside baseline), the transition matrix as a 3x3 heat map, hits
 * per rule, and a searchable, filterable table of changed files whose rows expand to show both
 * sides. The page loads nothing: a Content-Security-Policy forbids every fetch, and the report
 * itself is embedded as JSON (`<script type="application/json" id="report-data">`, `<` written as
 * `\u003c`) from which the script builds the table. All user text is HTML-escaped, or set with
 * `textContent` by the script. Elements tests rely on carry `data-testid` attributes.
 */
import { count, delta, duration, percent, plural } from "./numbers.js";
import {
  type DryRunReport,
  exceptionsSentence,
  type OutcomeCounts,
  type RuleStats,
  type RulesetSummary,
} from "./report.js";

type Action = keyof OutcomeCounts;
const ACTIONS: readonly Action[] = ["allow", "deny", "review"];

/** Bars in the hits-per-rule chart (the rules table below it lists every rule). */
export const HTML_MAX_RULE_BARS = 40;

const COLOR = {
  allow: { dark: "#15803d", light: "#bbf7d0" },
  deny: { dark: "#b91c1c", light: "#fecaca" },
  review: { dark: "#b45309", light: "#fde68a" },
  monitor: { dark: "#64748b", light: "#e2e8f0" },
  baseline: "#94a3b8",
  candidate: "#2563eb",
} as const;

/** How strict each decision is: a transition up this scale blocks more, down it lets more through. */
const STRICTNESS: Record<Action, number> = { allow: 0, review: 1, deny: 2 };

type Direction = "same" | "looser" | "stricter";

function transitionDirection(from: Action, to: Action): Direction {
  const d = STRICTNESS[to] - STRICTNESS[from];
  return d === 0 ? "same" : d > 0 ? "stricter" : "looser";
}

/**
 * Heat-map hues: loosening (files let through that were not before) is the security risk and
 * reads red; tightening (files now blocked or held) reads violet, away from every action colour.
 * Each changed cell also says which it is in words, and the two outlines differ (solid, dashed),
 * so colour is never the only cue.
 */
const HEAT = {
  same: { hue: 215 },
  looser: {
    hue: 4,
    saturation: 82,
    stroke: "#7f1d1d",
    mark: "▼ LOOSER",
    label: "looser: lets more through",
  },
  stricter: {
    hue: 262,
    saturation: 62,
    stroke: "#4c1d95",
    mark: "▲ STRICTER",
    label: "stricter: blocks or holds more",
  },
} as const;

function heatLegend(): string {
  const item = (d: "looser" | "stricter", text: string) =>
    `<span class="heat-key ${d}" data-testid="heat-legend-${d}"><span class="swatch"></span>${text}</span>`;
  return `<p class="heat-legend">${item("looser", "looser: lets through what was held or blocked")}${item("stricter", "stricter: holds or blocks what was let through")}</p>`;
}

/** Render the dry-run report as one self-contained HTML page. */
export function renderHtml(report: DryRunReport): string {
  const hasBaseline = report.baseline !== null && report.outcomes.baseline !== null;
  const title = hasBaseline
    ? `Clearance dry-run: ${count(report.changed)} ${plural(report.changed, "decision")} changed`
    : `Clearance dry-run: ${count(report.totals.decided)} decided`;
  const body = [
    header(report, title),
    failOnBanner(report),
    summaryCards(report, hasBaseline),
    exceptionsNote(report),
    `<div class="charts-row">`,
    panel("Decisions by outcome", outcomesChart(report), "outcomes"),
    hasBaseline
      ? panel(
          "Transitions",
          `<p class="hint">Rows: baseline decision; columns: candidate decision. Click a changed cell to filter the table.</p>${heatMap(report)}${heatLegend()}`,
          "transitions",
        )
      : panel(
          "Transitions",
          `<p class="note" data-testid="no-baseline-note">No baseline: the candidate rules were run alone, so there is no transition matrix and no changed files. Run <code>clearance dry-run --baseline &lt;git-ref | dir&gt;</code> to compare.</p>`,
          "transitions",
        ),
    `</div>`,
    // The summaries come first; the table of changed files can run to thousands of rows.
    rulesSection(report),
    hasBaseline ? changesSection(report) : "",
    problemsSection(report),
    `<footer>Clearance dry-run report v${report.version} · generated ${esc(report.generatedAt)} · records decided at ${esc(report.now)}</footer>`,
  ].join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<link rel="icon" href="data:,">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
<script type="application/json" id="report-data">${embedJson(report)}</script>
<script>${CLIENT_JS}</script>
</body>
</html>
`;
}

/** The report as JSON that cannot end its `<script>` element early. */
export function embedJson(report: DryRunReport): string {
  return JSON.stringify(report)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

// ---------------------------------------------------------------------------------------------
// Page sections

function header(r: DryRunReport, title: string): string {
  const sides = [`<div class="side-card"><h3>Candidate</h3>${ruleset(r.candidate)}</div>`];
  if (r.baseline)
    sides.push(`<div class="side-card"><h3>Baseline</h3>${ruleset(r.baseline)}</div>`);
  const sources = r.sources.map((s) => `<li><code>${esc(s)}</code></li>`).join("");
  return `<header>
<h1>${esc(title)}</h1>
<div class="compare">${sides.join("")}</div>
${sources ? `<details class="sources"><summary>${r.sources.length} ${plural(r.sources.length, "source")}</summary><ul>${sources}</ul></details>` : ""}
</header>`;
}

function ruleset(s: RulesetSummary): string {
  const rows: [string, string][] = [["rules", `<code>${esc(s.source)}</code>`]];
  if (s.name) rows.push(["name", esc(s.name)]);
  if (s.revision) rows.push(["revision", `<code>${esc(s.revision)}</code>`]);
  if (s.commit)
    rows.push([
      "commit",
      `<code title="${esc(s.commit.sha)}">${esc(s.commit.sha.slice(0, 12))}</code>${s.commit.dirty ? ' <span class="tag">dirty</span>' : ""}`,
    ]);
  rows.push(["count", `${count(s.rules)} ${plural(s.rules, "rule")}`]);
  return `<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>`;
}

function failOnBanner(r: DryRunReport): string {
  const { rules, triggered } = r.failOn;
  if (rules.length === 0) return "";
  const watched = rules.map((p) => `${p.from} → ${p.to}`).join(", ");
  if (triggered.length === 0)
    return `<p class="banner ok" data-testid="fail-on">--fail-on not triggered (watching ${esc(watched)}).</p>`;
  const which = triggered.map((p) => `<strong>${p.from} → ${p.to}</strong> (${count(p.count)})`);
  return `<p class="banner bad" data-testid="fail-on">--fail-on triggered by ${which.join(", ")} (watching ${esc(watched)}).</p>`;
}

function summaryCards(r: DryRunReport, hasBaseline: boolean): string {
  const t = r.totals;
  const cards: [string, string, string][] = [
    ["read", count(t.read), "records read"],
    ["decided", count(t.decided), "decided"],
    ["invalid", count(t.invalid), "invalid"],
    ["malformed", count(t.malformed), "malformed"],
  ];
  if (hasBaseline)
    cards.push([
      "changed",
      count(r.changed),
      `changed${t.decided > 0 ? ` (${percent(r.changed, t.decided)})` : ""}`,
    ]);
  const e = r.exceptions;
  if (e?.applied && e.candidate > 0) {
    cards.push(["by-exception", count(e.decided), "decided by an exception"]);
    cards.push(["exceptions-changed", count(e.changed), "changed by exceptions"]);
  }
  cards.push(["duration", duration(t.durationMs), "run time"]);
  return `<section class="cards" data-testid="summary">${cards
    .map(
      ([k, v, label]) =>
        `<div class="card card-${k}" data-testid="total-${k}"><div class="value">${v}</div><div class="label">${esc(label)}</div></div>`,
    )
    .join("")}</section>`;
}

function exceptionsNote(r: DryRunReport): string {
  const sentence = exceptionsSentence(r.exceptions);
  return sentence
    ? `<p class="note" data-testid="exceptions">Exceptions: ${esc(sentence)}.</p>`
    : "";
}

function panel(title: string, content: string, id: string): string {
  return `<section class="panel" id="${id}"><h2>${esc(title)}</h2>${content}</section>`;
}

function changesSection(r: DryRunReport): string {
  if (r.changed === 0 || r.changes.length === 0) {
    const text =
      r.changed === 0
        ? "No decision changed between the baseline and the candidate."
        : `${count(r.changed)} decisions changed, but the report kept none of them (changes limit ${count(r.changesLimit)}).`;
    return panel(
      "Changed files",
      `<p class="note" data-testid="no-changes">${text}</p>`,
      "changes",
    );
  }
  const inTable = new Map<string, number>();
  for (const c of r.changes) {
    const k = `${c.baseline.decision}>${c.candidate.decision}`;
    inTable.set(k, (inTable.get(k) ?? 0) + 1);
  }
  const options = r.transitions
    .filter((t) => t.from !== t.to && t.count > 0)
    .map((t) => {
      const k = `${t.from}>${t.to}`;
      return `<option value="${k}">${t.from} → ${t.to} (${count(inTable.get(k) ?? 0)})</option>`;
    })
    .join("");
  const partial =
    r.changed > r.changes.length
      ? ` The table holds the first ${count(r.changes.length)} (the report's limit is ${count(r.changesLimit)}).`
      : "";
  return panel(
    "Changed files",
    `<p class="hint">${count(r.changed)} ${plural(r.changed, "record")} decided differently.${partial} Click a row to see both sides.</p>
<div class="controls">
<input type="search" id="search" data-testid="changes-search" placeholder="Filter by file name, sha256, rule or reason" aria-label="Filter changed files" autocomplete="off" spellcheck="false">
<select id="transition" data-testid="changes-transition" aria-label="Filter by transition"><option value="">All transitions (${count(r.changes.length)})</option>${options}</select>
<span id="shown" class="shown" data-testid="changes-count" aria-live="polite"></span>
</div>
<div class="table-wrap"><table class="changes" id="changes-table" data-testid="changes-table">
<thead><tr><th class="col-toggle"><span class="sr">details</span></th><th>File</th><th>sha256</th><th>Transition</th><th>Rule (baseline → candidate)</th><th>Candidate reason</th></tr></thead>
<tbody></tbody>
</table></div>
<p class="more"><button type="button" id="more" data-testid="changes-more" hidden>Show more</button></p>
<noscript><p class="note">The table of changed files needs JavaScript; the data is in the JSON report.</p></noscript>`,
    "changes",
  );
}

function rulesSection(r: DryRunReport): string {
  const base = r.baselineRules ? new Map(r.baselineRules.map((s) => [s.rule, s])) : null;
  const head = `<tr><th>Rule</th><th>Action</th><th class="num">Matched</th><th class="num">Deciding</th><th class="num">Errors</th>${base ? '<th class="num">Deciding (baseline)</th><th class="num">Δ</th>' : ""}</tr>`;
  const rows = r.rules
    .map((s) => {
      const b = base?.get(s.rule);
      const cmp = base
        ? b
          ? `<td class="num">${count(b.deciding)}</td><td class="num">${delta(s.deciding - b.deciding, "±0")}</td>`
          : '<td class="num">—</td><td class="num"><span class="tag">new</span></td>'
        : "";
      return `<tr><td><code>${esc(s.rule)}</code></td><td>${actionChip(s.action)}${s.monitor ? ' <span class="tag">monitor</span>' : ""}</td><td class="num">${count(s.matched)}</td><td class="num">${count(s.deciding)}</td><td class="num${s.errors > 0 ? " err" : ""}">${count(s.errors)}</td>${cmp}</tr>`;
    })
    .join("");
  const names = new Set(r.rules.map((s) => s.rule));
  const removed = (r.baselineRules ?? []).filter((s) => !names.has(s.rule));
  const neverList = r.neverMatched.map((n) => `<code>${esc(n)}</code>`).join(", ");
  const never =
    r.neverMatched.length === 0
      ? "<p>Every rule matched at least one record.</p>"
      : r.neverMatched.length <= 12
        ? `<p data-testid="never-matched"><strong>Never matched (${count(r.neverMatched.length)}):</strong> ${neverList}</p>`
        : `<details data-testid="never-matched"><summary><strong>Never matched (${count(r.neverMatched.length)})</strong></summary><p>${neverList}</p></details>`;
  const failing = r.rules.filter((s) => s.errors > 0).sort((a, b) => b.errors - a.errors);
  const errors = failing.length
    ? `<p class="err"><strong>Run-time errors:</strong> ${failing.map((s) => `<code>${esc(s.rule)}</code> ${count(s.errors)}`).join(", ")}</p>`
    : "<p>No run-time errors.</p>";
  const removedNote = removed.length
    ? `<p><strong>Only in the baseline:</strong> ${removed.map((s) => `<code>${esc(s.rule)}</code>`).join(", ")}</p>`
    : "";
  return panel(
    "Hits per rule",
    `${ruleHitsChart(r.rules)}
${never}${errors}${removedNote}
<details class="rules-table"${r.rules.length <= 15 ? " open" : ""}><summary>All ${count(r.rules.length)} candidate rules</summary>
<div class="table-wrap${r.rules.length > 15 ? " scroll" : ""}"><table data-testid="rules-table"><thead>${head}</thead><tbody>${rows}</tbody></table></div></details>`,
    "rules",
  );
}

function problemsSection(r: DryRunReport): string {
  const parts: string[] = [];
  const kinds = [
    ["Invalid records", r.totals.invalid, r.invalid],
    ["Malformed records", r.totals.malformed, r.malformed],
  ] as const;
  for (const [title, total, list] of kinds) {
    if (total === 0 && list.length === 0) continue;
    const rows = list
      .flatMap((p) =>
        (p.problems.length ? p.problems : [{ pointer: "", message: "" }]).map(
          (q, i) =>
            `<tr><td>${i === 0 ? `<code>${esc(p.source)}:${p.line}</code>` : ""}</td><td><code>${esc(q.pointer)}</code></td><td>${esc(q.message)}</td></tr>`,
        ),
      )
      .join("");
    const shown =
      list.length < total ? ` (the first ${count(list.length)} of ${count(total)})` : "";
    parts.push(
      `<h3>${title}${shown}</h3><div class="table-wrap scroll"><table><thead><tr><th>Where</th><th>Pointer</th><th>Problem</th></tr></thead><tbody>${rows}</tbody></table></div>`,
    );
  }
  return parts.length ? panel("Records that could not be decided", parts.join(""), "problems") : "";
}

// ---------------------------------------------------------------------------------------------
// Charts (inline SVG)

function outcomesChart(r: DryRunReport): string {
  const series: { key: string; counts: OutcomeCounts; color: string }[] = [];
  if (r.outcomes.baseline)
    series.push({ key: "baseline", counts: r.outcomes.baseline, color: COLOR.baseline });
  series.push({ key: "candidate", counts: r.outcomes.candidate, color: COLOR.candidate });
  const W = 520;
  const H = 280;
  const m = { top: 40, right: 12, bottom: 56, left: 60 };
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const max = Math.max(1, ...series.flatMap((s) => ACTIONS.map((a) => s.counts[a])));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] ?? max;
  const y = (v: number) => m.top + plotH - (v / top) * plotH;
  const groupW = plotW / ACTIONS.length;
  const barW = Math.min(64, (groupW * 0.72) / series.length);
  const out: string[] = [];
  for (const t of ticks)
    out.push(
      `<line class="grid" x1="${m.left}" x2="${W - m.right}" y1="${fx(y(t))}" y2="${fx(y(t))}"/><text class="tick" x="${m.left - 8}" y="${fx(y(t) + 4)}" text-anchor="end">${compact(t)}</text>`,
    );
  ACTIONS.forEach((a, gi) => {
    const gx = m.left + gi * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.counts[a];
      const x = gx + si * barW;
      const h = (v / top) * plotH;
      out.push(
        `<rect data-testid="outcome-bar" data-series="${s.key}" data-outcome="${a}" data-count="${v}" x="${fx(x + 2)}" y="${fx(y(v))}" width="${fx(barW - 4)}" height="${fx(h)}" rx="3" fill="${s.color}"><title>${s.key} ${a}: ${count(v)}</title></rect>`,
        `<text class="value" x="${fx(x + barW / 2)}" y="${fx(y(v) - 5)}" text-anchor="middle">${compact(v)}</text>`,
      );
    });
    const cx = m.left + gi * groupW + groupW / 2;
    out.push(
      `<circle cx="${fx(cx - 30)}" cy="${H - m.bottom + 19}" r="5" fill="${COLOR[a].dark}"/><text class="label" x="${fx(cx - 20)}" y="${H - m.bottom + 23}">${a}</text>`,
    );
    const base = r.outcomes.baseline;
    if (base) {
      const d = r.outcomes.candidate[a] - base[a];
      out.push(
        `<text class="delta ${d > 0 ? "up" : d < 0 ? "down" : ""}" x="${fx(cx)}" y="${H - m.bottom + 42}" text-anchor="middle">${delta(d, "±0")}</text>`,
      );
    }
  });
  out.push(
    `<line class="axis" x1="${m.left}" x2="${W - m.right}" y1="${m.top + plotH}" y2="${m.top + plotH}"/>`,
  );
  let lx = m.left;
  for (const s of series) {
    out.push(
      `<rect x="${lx}" y="12" width="12" height="12" rx="2" fill="${s.color}"/><text class="legend" x="${lx + 18}" y="22">${s.key}</text>`,
    );
    lx += 110;
  }
  return `<svg data-testid="outcomes-chart" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Decisions by outcome">${out.join("")}</svg>`;
}

function heatMap(r: DryRunReport): string {
  const cellW = 112;
  const cellH = 84;
  const left = 104;
  const top = 62;
  const W = left + cellW * 3 + 12;
  const H = top + cellH * 3 + 12;
  const get = (from: Action, to: Action) =>
    r.transitions.find((t) => t.from === from && t.to === to)?.count ?? 0;
  const diag = Math.max(1, ...ACTIONS.map((a) => get(a, a)));
  const off = Math.max(
    1,
    ...ACTIONS.flatMap((f) => ACTIONS.filter((t) => t !== f).map((t) => get(f, t))),
  );
  const decided = Math.max(1, r.totals.decided);
  const out: string[] = [
    `<text class="axis-title" x="${left + (cellW * 3) / 2}" y="16" text-anchor="middle">candidate →</text>`,
    `<text class="axis-title" x="${left - 10}" y="${top - 34}" text-anchor="end">baseline ↓</text>`,
  ];
  ACTIONS.forEach((a, i) => {
    out.push(
      `<text class="label" x="${left + i * cellW + cellW / 2}" y="${top - 12}" text-anchor="middle" fill="${COLOR[a].dark}">${a}</text>`,
      `<text class="label" x="${left - 10}" y="${top + i * cellH + cellH / 2 + 5}" text-anchor="end" fill="${COLOR[a].dark}">${a}</text>`,
    );
  });
  ACTIONS.forEach((from, ri) => {
    ACTIONS.forEach((to, ci) => {
      const n = get(from, to);
      const direction = transitionDirection(from, to);
      let fill = "#f8fafc";
      let light = 100;
      if (direction === "same") {
        const t = Math.sqrt(n / diag);
        light = 97 - 30 * t;
        fill = `hsl(${HEAT.same.hue} 22% ${light.toFixed(1)}%)`;
      } else if (n > 0) {
        const t = Math.log1p(n) / Math.log1p(off);
        light = 90 - 42 * t;
        fill = `hsl(${HEAT[direction].hue} ${HEAT[direction].saturation}% ${light.toFixed(1)}%)`;
      }
      const ink = light < 66 ? "#ffffff" : "#0f172a";
      const x = left + ci * cellW;
      const yy = top + ri * cellH;
      const hot = direction !== "same" && n > 0;
      const stroke = hot
        ? ` stroke="${HEAT[direction as "looser" | "stricter"].stroke}" stroke-width="3"${direction === "stricter" ? ' stroke-dasharray="7 4"' : ""}`
        : ' stroke="#e2e8f0" stroke-width="1"';
      out.push(
        `<rect data-testid="heatmap-cell" class="cell${hot ? " changed" : ""}" data-from="${from}" data-to="${to}" data-count="${n}" data-changed="${hot}" data-direction="${direction}" x="${x + 2}" y="${yy + 2}" width="${cellW - 4}" height="${cellH - 4}" rx="6" fill="${fill}"${stroke}><title>${from} → ${to}: ${count(n)}${direction === "same" ? " unchanged" : ` ${HEAT[direction].label}`}</title></rect>`,
      );
      if (direction !== "same")
        out.push(
          `<text class="cell-direction" x="${x + cellW / 2}" y="${yy + 19}" text-anchor="middle" fill="${n > 0 ? ink : "#94a3b8"}">${HEAT[direction].mark}</text>`,
        );
      out.push(
        `<text class="cell-count" x="${x + cellW / 2}" y="${yy + cellH / 2 + 8}" text-anchor="middle" fill="${ink}">${count(n)}</text>`,
        `<text class="cell-share" x="${x + cellW / 2}" y="${yy + cellH / 2 + 26}" text-anchor="middle" fill="${ink}">${percent(n, decided)}</text>`,
      );
    });
  });
  return `<svg data-testid="transition-heatmap" class="chart heatmap" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Transition matrix: baseline decisions in rows, candidate decisions in columns">${out.join("")}</svg>`;
}

function ruleHitsChart(rules: readonly RuleStats[]): string {
  if (rules.length === 0) return '<p class="note">The candidate has no rules.</p>';
  let shown = rules.slice();
  let note = "";
  if (rules.length > HTML_MAX_RULE_BARS) {
    const keep = new Set(
      rules
        .slice()
        .sort((a, b) => b.matched - a.matched || b.deciding - a.deciding)
        .slice(0, HTML_MAX_RULE_BARS),
    );
    shown = rules.filter((s) => keep.has(s));
    note = `<p class="hint">The ${HTML_MAX_RULE_BARS} rules with the most matches, of ${count(rules.length)}; the table below lists them all.</p>`;
  }
  const labelW = 220;
  const valueW = 250;
  const W = 880;
  const rowH = 32;
  const top = 34;
  const barArea = W - labelW - valueW;
  const max = Math.max(1, ...shown.map((s) => Math.max(s.matched, s.deciding)));
  const ticks = niceTicks(max);
  const end = ticks[ticks.length - 1] ?? max;
  const H = top + rowH * shown.length + 22;
  const x = (v: number) => (v / end) * barArea;
  // The legend shows the bars' own colours: light = matched, dark = deciding, hue = the action.
  const kinds: { key: string; c: { dark: string; light: string } }[] = ACTIONS.filter((a) =>
    shown.some((s) => !s.monitor && s.action === a),
  ).map((a) => ({ key: a, c: COLOR[a] }));
  if (shown.some((s) => s.monitor)) kinds.push({ key: "monitor", c: COLOR.monitor });
  const out: string[] = [
    `<text class="legend" x="0" y="16">upper bar matched, lower bar deciding:</text>`,
  ];
  let lx = labelW + 60;
  for (const k of kinds) {
    out.push(
      `<g data-testid="rule-legend" data-kind="${k.key}"><rect x="${lx}" y="5" width="12" height="6" rx="1" fill="${k.c.light}"/><rect x="${lx}" y="12" width="12" height="6" rx="1" fill="${k.c.dark}"/><text class="legend" x="${lx + 17}" y="16">${k.key}</text></g>`,
    );
    lx += 90;
  }
  for (const t of ticks)
    out.push(
      `<line class="grid" x1="${fx(labelW + x(t))}" x2="${fx(labelW + x(t))}" y1="${top - 4}" y2="${H - 18}"/><text class="tick" x="${fx(labelW + x(t))}" y="${H - 4}" text-anchor="middle">${compact(t)}</text>`,
    );
  shown.forEach((s, i) => {
    const y0 = top + i * rowH;
    const c = s.monitor ? COLOR.monitor : COLOR[s.action];
    const name = s.rule.length > 30 ? `${s.rule.slice(0, 29)}…` : s.rule;
    const values = `${count(s.matched)} matched · ${count(s.deciding)} deciding${s.errors ? ` · ${count(s.errors)} errors` : ""}`;
    out.push(
      `<text class="rule-label" x="${labelW - 10}" y="${y0 + 17}" text-anchor="end"><title>${esc(s.rule)} (${s.action}${s.monitor ? ", monitor" : ""})</title>${esc(name)}</text>`,
      `<rect data-testid="rule-bar-matched" data-rule="${esc(s.rule)}" x="${labelW}" y="${y0 + 4}" width="${fx(x(s.matched))}" height="11" rx="2" fill="${c.light}"><title>${esc(s.rule)}: matched ${count(s.matched)}</title></rect>`,
      `<rect data-testid="rule-bar-deciding" data-rule="${esc(s.rule)}" x="${labelW}" y="${y0 + 16}" width="${fx(x(s.deciding))}" height="11" rx="2" fill="${c.dark}"><title>${esc(s.rule)}: deciding ${count(s.deciding)}</title></rect>`,
      `<text class="rule-value${s.errors ? " err" : ""}" x="${fx(labelW + Math.max(x(s.matched), x(s.deciding)) + 8)}" y="${y0 + 20}">${values}</text>`,
    );
  });
  return `${note}<div class="chart-scroll"><svg data-testid="rule-hits-chart" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Hits per rule: matched and deciding">${out.join("")}</svg></div>`;
}

/** Round axis ticks from 0 to at least `max`: steps of 1, 2 or 5 times a power of ten. */
function niceTicks(max: number): number[] {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = Math.max(1, (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag);
  const ticks: number[] = [];
  for (let t = 0; t < max + step; t += step) ticks.push(t);
  return ticks;
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** Text for HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );
}

function actionChip(a: Action): string {
  return `<span class="chip ${a}">${a}</span>`;
}

function compact(n: number): string {
  const a = Math.abs(n);
  if (a < 10_000) return count(n);
  const [d, unit] = a < 1_000_000 ? [1_000, "k"] : [1_000_000, "M"];
  const v = n / d;
  return `${Math.abs(v) < 100 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v)}${unit}`;
}

/** A coordinate with at most one decimal. */
function fx(n: number): string {
  return String(Math.round(n * 10) / 10);
}

// ---------------------------------------------------------------------------------------------
// Inline CSS and script

const CSS = `
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f6f7f9;--panel:#fff;--accent:#2563eb;
--allow:${COLOR.allow.dark};--deny:${COLOR.deny.dark};--review:${COLOR.review.dark}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 12px}
h2{font-size:17px;margin:0 0 12px}
h3{font-size:14px;margin:16px 0 6px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.compare{display:flex;flex-wrap:wrap;gap:12px}
.side-card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:280px;flex:1}
.side-card h3{margin:2px 0 4px;font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.side-card dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}
.side-card dt{color:var(--muted)}.side-card dd{margin:0;overflow-wrap:anywhere}
.sources{margin:10px 0 0;color:var(--muted)}.sources ul{margin:4px 0;padding-left:20px}
.banner{padding:10px 14px;border-radius:8px;margin:16px 0 0;font-weight:500}
.banner.ok{background:#ecfdf5;border:1px solid #a7f3d0;color:#065f46}
.banner.bad{background:#fef2f2;border:1px solid #fecaca;color:#991b1b}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:12px;margin:16px 0}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.card .value{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums}
.card .label{color:var(--muted)}
.card-changed .value{color:var(--deny)}
.charts-row{display:grid;grid-template-columns:repeat(auto-fit,minmax(500px,1fr));gap:16px}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:0 0 16px;overflow:hidden}
.hint,.note{color:var(--muted);margin:0 0 10px}
.note{background:#f8fafc;border:1px dashed #cbd5e1;border-radius:8px;padding:12px 14px}
.chart{max-width:100%;height:auto;display:block}
.chart-scroll{overflow-x:auto}
.chart text{font-size:12px}.chart text:not([fill]){fill:#334155}
.chart .grid{stroke:#eef2f7}.chart .axis{stroke:#94a3b8}
.chart .tick{fill:var(--muted);font-size:11px}
.chart .value{font-size:11px;fill:#334155;font-variant-numeric:tabular-nums}
.chart .label{font-weight:600;font-size:13px}
.chart .delta{font-size:12px;fill:var(--muted)}.chart .delta.up{fill:#1d4ed8}.chart .delta.down{fill:#9a3412}
.chart .axis-title{fill:var(--muted);font-size:12px}
.heatmap .cell{cursor:default}.heatmap .cell.changed{cursor:pointer}
.heatmap .cell.changed:hover{stroke-width:5}
.heatmap .cell-count{font-size:18px;font-weight:650;pointer-events:none}
.heatmap .cell-share{font-size:11px;pointer-events:none}
.heatmap .cell-direction{font-size:9.5px;font-weight:700;letter-spacing:.06em}
.heat-legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin:10px 0 0;color:#334155;font-size:12.5px}
.heat-key{display:inline-flex;align-items:center;gap:6px}
.heat-key .swatch{width:14px;height:14px;border-radius:3px;display:inline-block}
.heat-key.looser .swatch{background:hsl(4 82% 62%);border:2px solid #7f1d1d}
.heat-key.stricter .swatch{background:hsl(262 62% 70%);border:2px dashed #4c1d95}
.heatmap text{pointer-events:none}
.chart .rule-label{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11.5px}
.chart .rule-value{font-size:11px;fill:var(--muted)}.chart .err{fill:var(--deny)}
.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:0 0 10px}
.controls input{flex:1;min-width:260px;padding:7px 10px;border:1px solid #cbd5e1;border-radius:6px;font:inherit}
.controls select{padding:7px 8px;border:1px solid #cbd5e1;border-radius:6px;font:inherit;background:#fff}
.controls input:focus,.controls select:focus{outline:2px solid #93c5fd;border-color:var(--accent)}
.shown{color:var(--muted)}
.table-wrap{overflow-x:auto}
.scroll{max-height:440px;overflow-y:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;background:#f8fafc;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.err{color:var(--deny);font-weight:600}
table.changes{table-layout:fixed}
table.changes th:nth-child(1){width:44px}table.changes th:nth-child(2){width:24%}
table.changes th:nth-child(3){width:118px}table.changes th:nth-child(4){width:168px}
table.changes th:nth-child(5){width:24%}
table.changes td{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
tr.row{cursor:pointer}tr.row:hover td{background:#f8fafc}tr.row.open td{background:#eff6ff}
tr.detail td{white-space:normal;background:#fbfdff}
.toggle{border:1px solid #cbd5e1;background:#fff;border-radius:4px;width:22px;height:22px;line-height:18px;padding:0;cursor:pointer;color:#334155}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.side{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fff}
.side h4{margin:0 0 6px;font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.side dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 12px;margin:0}
.side dt{color:var(--muted)}.side dd{margin:0;overflow-wrap:anywhere}
.where{margin:8px 0 0;color:var(--muted);overflow-wrap:anywhere}
.chip{display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.chip.allow{background:var(--allow)}.chip.deny{background:var(--deny)}.chip.review{background:var(--review)}
.tag{display:inline-block;padding:0 6px;border-radius:4px;font-size:11px;background:#f1f5f9;color:#475569;border:1px solid var(--line)}
.err{color:var(--deny)}
.more{text-align:center;margin:10px 0 0}.more button{padding:6px 14px;border:1px solid #cbd5e1;border-radius:6px;background:#fff;cursor:pointer;font:inherit}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
details summary{cursor:pointer;color:#334155;margin:8px 0}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
@media (max-width:700px){.sides{grid-template-columns:1fr}.charts-row{grid-template-columns:1fr}}
`;

/**
 * The page's script: builds the changed-files table from the embedded report, filters it by text
 * and transition, expands rows, and lets a changed heat-map cell set the transition filter. User
 * text only ever reaches the page through `textContent`. Plain ES2019, no template literals.
 */
const CLIENT_JS = `
(function () {
  "use strict";
  var node = document.getElementById("report-data");
  var report = JSON.parse(node.textContent);
  var changes = report.changes || [];
  var table = document.getElementById("changes-table");
  if (!table) return;
  var tbody = table.querySelector("tbody");
  var search = document.getElementById("search");
  var select = document.getElementById("transition");
  var shownEl = document.getElementById("shown");
  var moreBtn = document.getElementById("more");
  var PAGE = 500;
  var limit = PAGE;
  var open = {};
  var hay = changes.map(function (c) {
    return [c.fileName || "", c.sha256, c.baseline.rule || "", c.candidate.rule || "",
      c.baseline.reason, c.candidate.reason, c.source].join("\\n").toLowerCase();
  });

  function fmt(n) { return String(n).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ","); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function chip(action) { return el("span", "chip " + action, action); }
  function ruleText(rule) { return rule === null ? "(default)" : rule; }

  function matches(i, terms, transition) {
    var c = changes[i];
    if (transition && c.baseline.decision + ">" + c.candidate.decision !== transition) return false;
    for (var t = 0; t < terms.length; t++) if (hay[i].indexOf(terms[t]) < 0) return false;
    return true;
  }

  function row(i) {
    var c = changes[i];
    var tr = el("tr", "row" + (open[i] ? " open" : ""));
    tr.setAttribute("data-testid", "change-row");
    tr.setAttribute("data-index", String(i));
    var td = el("td");
    var btn = el("button", "toggle", open[i] ? "\\u25be" : "\\u25b8");
    btn.type = "button";
    btn.title = "Show both sides";
    btn.setAttribute("aria-expanded", open[i] ? "true" : "false");
    btn.setAttribute("data-testid", "change-toggle");
    td.appendChild(btn);
    tr.appendChild(td);
    var file = el("td", "file", c.fileName === null ? "(no name)" : c.fileName);
    file.title = c.fileName === null ? "" : c.fileName;
    tr.appendChild(file);
    var sha = el("td", "mono", c.sha256.slice(0, 12));
    sha.title = c.sha256;
    tr.appendChild(sha);
    var tx = el("td");
    tx.appendChild(chip(c.baseline.decision));
    tx.appendChild(document.createTextNode(" \\u2192 "));
    tx.appendChild(chip(c.candidate.decision));
    tr.appendChild(tx);
    var rules = el("td", "mono", ruleText(c.baseline.rule) + " \\u2192 " + ruleText(c.candidate.rule));
    rules.title = rules.textContent;
    tr.appendChild(rules);
    var reason = el("td", "reason", c.candidate.reason);
    reason.title = c.candidate.reason;
    tr.appendChild(reason);
    return tr;
  }

  function side(title, s) {
    var box = el("div", "side");
    box.setAttribute("data-testid", "change-side");
    box.appendChild(el("h4", null, title));
    var dl = el("dl");
    function item(k, v) { dl.appendChild(el("dt", null, k)); var dd = el("dd"); if (typeof v === "string") dd.textContent = v; else dd.appendChild(v); dl.appendChild(dd); }
    item("decision", chip(s.decision));
    item("rule", ruleText(s.rule));
    item("reason", s.reason);
    item("matched", s.matched.length ? s.matched.join(", ") : "(none)");
    box.appendChild(dl);
    return box;
  }

  function detail(i) {
    var c = changes[i];
    var tr = el("tr", "detail");
    tr.setAttribute("data-testid", "change-detail");
    tr.setAttribute("data-index", String(i));
    var td = el("td");
    td.colSpan = 6;
    var sides = el("div", "sides");
    sides.appendChild(side("Baseline", c.baseline));
    sides.appendChild(side("Candidate", c.candidate));
    td.appendChild(sides);
    td.appendChild(el("p", "where", "sha256 " + c.sha256 + " \\u00b7 " + c.source + ":" + c.line));
    tr.appendChild(td);
    return tr;
  }

  function render() {
    var terms = search.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var transition = select.value;
    var hits = [];
    for (var i = 0; i < changes.length; i++) if (matches(i, terms, transition)) hits.push(i);
    var frag = document.createDocumentFragment();
    var n = Math.min(limit, hits.length);
    for (var k = 0; k < n; k++) {
      frag.appendChild(row(hits[k]));
      if (open[hits[k]]) frag.appendChild(detail(hits[k]));
    }
    tbody.textContent = "";
    tbody.appendChild(frag);
    shownEl.textContent = hits.length === changes.length && n === hits.length
      ? fmt(changes.length) + " shown"
      : "showing " + fmt(n) + " of " + fmt(hits.length) + " matching (" + fmt(changes.length) + " in the table)";
    moreBtn.hidden = n >= hits.length;
    moreBtn.textContent = "Show " + fmt(Math.min(PAGE, hits.length - n)) + " more";
  }

  function toggle(tr) {
    var i = Number(tr.getAttribute("data-index"));
    var btn = tr.querySelector("button");
    if (open[i]) {
      delete open[i];
      var next = tr.nextSibling;
      if (next && next.className === "detail") tbody.removeChild(next);
    } else {
      open[i] = true;
      tbody.insertBefore(detail(i), tr.nextSibling);
    }
    tr.className = "row" + (open[i] ? " open" : "");
    btn.textContent = open[i] ? "\\u25be" : "\\u25b8";
    btn.setAttribute("aria-expanded", open[i] ? "true" : "false");
  }

  tbody.addEventListener("click", function (e) {
    var tr = e.target.closest("tr.row");
    if (tr) toggle(tr);
  });
  search.addEventListener("input", function () { limit = PAGE; render(); });
  select.addEventListener("change", function () { limit = PAGE; render(); });
  moreBtn.addEventListener("click", function () { limit += PAGE; render(); });
  var cells = document.querySelectorAll(".heatmap .cell.changed");
  for (var j = 0; j < cells.length; j++) {
    cells[j].addEventListener("click", function (e) {
      var cell = e.currentTarget;
      var value = cell.getAttribute("data-from") + ">" + cell.getAttribute("data-to");
      for (var o = 0; o < select.options.length; o++) {
        if (select.options[o].value === value) {
          select.value = value;
          limit = PAGE;
          render();
          document.getElementById("changes").scrollIntoView({ behavior: "smooth" });
        }
      }
    });
  }
  render();
})();
`;
