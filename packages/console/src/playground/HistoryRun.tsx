import { useState } from "preact/hooks";
import {
  type Decision,
  describeError,
  type PlaygroundDryRun,
  playgroundApi,
  type RuleFile,
} from "../api.js";
import { DecisionBadge, FileName, shortHash, utc } from "../audit/format.js";

// Running the candidate over recorded history: the decisions of a period decided again with the
// candidate and with the live rules, as `clearance dry-run --from audit:` does, shown as the
// transition matrix and the decisions that change.

const ACTIONS: readonly Decision[] = ["allow", "deny", "review"];
const STRICTNESS: Record<Decision, number> = { allow: 0, review: 1, deny: 2 };

const PERIODS = [
  { id: "24h", label: "Last 24 hours", ms: 24 * 3_600_000 },
  { id: "7d", label: "Last 7 days", ms: 7 * 24 * 3_600_000 },
  { id: "30d", label: "Last 30 days", ms: 30 * 24 * 3_600_000 },
  { id: "custom", label: "Custom", ms: 0 },
] as const;
type PeriodId = (typeof PERIODS)[number]["id"];

/** `2026-12-04T10:30` (UTC) for a datetime field, from an instant. */
function fieldTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

/** A field's `2026-12-04T10:30[:ss]` read as UTC, or null. */
function readTime(text: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(text)) return null;
  const ms = Date.parse(`${text}Z`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export function HistoryRun({ files }: { files: RuleFile[] }) {
  const [period, setPeriod] = useState<PeriodId>("7d");
  const [from, setFrom] = useState(() => fieldTime(Date.now() - 7 * 24 * 3_600_000));
  const [to, setTo] = useState(() => fieldTime(Date.now() + 60_000));
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<PlaygroundDryRun | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const run = async (event: Event) => {
    event.preventDefault();
    let f: string | null;
    let t: string | null;
    if (period === "custom") {
      f = readTime(from);
      t = readTime(to);
      if (f === null || t === null || t <= f) {
        setProblem(
          f === null || t === null
            ? "write both times as 2026-12-04T10:30 (UTC)"
            : "the end of the period must be after its start",
        );
        return;
      }
    } else {
      const now = Date.now();
      f = new Date(now - PERIODS.find((p) => p.id === period)!.ms).toISOString();
      t = new Date(now + 1).toISOString();
    }
    setProblem(null);
    setRunning(true);
    setError(null);
    try {
      setResult(await playgroundApi.dryRun(files, f, t));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setRunning(false);
    }
  };

  return (
    <section class="panel pg-history" aria-labelledby="pg-history-title" aria-busy={running}>
      <h2 id="pg-history-title">Run over history</h2>
      <p class="muted">
        Decides every decision recorded in the period again, from its stored input, with the
        candidate and with the live rules, at the same time: as <code>clearance dry-run</code> does
        with an export of the audit log. Nothing is recorded and the live rules do not change.
      </p>
      <form class="pg-period" onSubmit={run}>
        <div class="field">
          <label for="pg-period">Period</label>
          <select
            id="pg-period"
            value={period}
            onChange={(e) => setPeriod((e.target as HTMLSelectElement).value as PeriodId)}
          >
            {PERIODS.map((p) => (
              <option key={p.id} value={p.id}>
                {p.label}
              </option>
            ))}
          </select>
        </div>
        {period === "custom" && (
          <>
            <div class="field">
              <label for="pg-from">From (UTC)</label>
              <input
                id="pg-from"
                class="mono"
                value={from}
                aria-invalid={problem !== null}
                aria-describedby={problem ? "pg-period-problem" : undefined}
                onInput={(e) => setFrom((e.target as HTMLInputElement).value)}
              />
            </div>
            <div class="field">
              <label for="pg-to">To (UTC)</label>
              <input
                id="pg-to"
                class="mono"
                value={to}
                aria-invalid={problem !== null}
                aria-describedby={problem ? "pg-period-problem" : undefined}
                onInput={(e) => setTo((e.target as HTMLInputElement).value)}
              />
            </div>
          </>
        )}
        <button type="submit" class="primary" disabled={running}>
          {running ? "Running…" : "Run over history"}
        </button>
      </form>
      {problem && (
        <p id="pg-period-problem" class="field-problem">
          {problem}
        </p>
      )}
      <p role="status" class="pg-status">
        {running ? "Replaying the recorded decisions…" : ""}
      </p>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      {result && <DryRunResult result={result} />}
    </section>
  );
}

function DryRunResult({ result }: { result: PlaygroundDryRun }) {
  if (!result.ran)
    return (
      <p class="notice error" role="alert">
        The candidate does not compile (
        {result.diagnostics.filter((d) => d.severity === "error").length} errors, listed under the
        editor): nothing was replayed.
      </p>
    );
  const count = (from: Decision, to: Decision) =>
    result.transitions.find((t) => t.from === from && t.to === to)?.count ?? 0;
  const { totals } = result;
  return (
    <div class="pg-run">
      <p>
        {totals.read} decision{totals.read === 1 ? "" : "s"} recorded from {utc(result.period.from)}{" "}
        to {utc(result.period.to)} UTC, decided again at {utc(result.period.now)} UTC:{" "}
        <strong>
          {result.changed} change{result.changed === 1 ? "" : "s"}
        </strong>
        {totals.invalid + totals.malformed > 0 &&
          `; ${totals.invalid + totals.malformed} could not be read again`}
        .
        {result.truncated && (
          <strong>
            {" "}
            Only the first {totals.read} decisions of the period were replayed (the server's limit).
          </strong>
        )}
      </p>
      <table class="pg-matrix">
        <caption>
          Transitions: rows are the live rules' decisions, columns the candidate's. A changed cell
          is marked <span class="mark-looser">▲ looser</span> (lets more through) or{" "}
          <span class="mark-stricter">▼ stricter</span>.
        </caption>
        <thead>
          <tr>
            <td />
            {ACTIONS.map((a) => (
              <th key={a} scope="col">
                candidate <DecisionBadge decision={a} />
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {ACTIONS.map((from) => (
            <tr key={from}>
              <th scope="row">
                live <DecisionBadge decision={from} />
              </th>
              {ACTIONS.map((to) => {
                const n = count(from, to);
                const kind =
                  from === to || n === 0
                    ? "same"
                    : STRICTNESS[to] < STRICTNESS[from]
                      ? "looser"
                      : "stricter";
                return (
                  <td key={to} class={`cell-${kind}`} data-from={from} data-to={to}>
                    <span class="count">{n}</span>
                    {kind === "looser" && <span class="mark-looser"> ▲ looser</span>}
                    {kind === "stricter" && <span class="mark-stricter"> ▼ stricter</span>}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>

      <h3>
        Changed decisions{" "}
        <span class="muted">
          {result.changes.length < result.changed
            ? `the first ${result.changes.length} of ${result.changed}`
            : result.changed}
        </span>
      </h3>
      {result.changes.length === 0 ? (
        <p class="muted">No recorded decision changes with the candidate.</p>
      ) : (
        <table class="entries pg-changes">
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">SHA-256</th>
              <th scope="col">Live</th>
              <th scope="col">Candidate</th>
              <th scope="col">Candidate reason</th>
              <th scope="col">Entry</th>
            </tr>
          </thead>
          <tbody>
            {result.changes.map((c) => (
              <tr key={c.auditId}>
                <td class="name">
                  <FileName name={c.fileName} />
                </td>
                <td class="mono" title={c.sha256}>
                  {shortHash(c.sha256)}
                </td>
                <td>
                  <DecisionBadge decision={c.before.decision} />{" "}
                  <code>{c.before.rule ?? "(default)"}</code>
                </td>
                <td>
                  <DecisionBadge decision={c.after.decision} />{" "}
                  <code>{c.after.rule ?? "(default)"}</code>
                </td>
                <td class="reason">{c.after.reason}</td>
                <td>
                  <a href={`#/audit/${encodeURIComponent(c.auditId)}`}>open entry</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
