import { useEffect, useMemo, useState } from "preact/hooks";
import { fleetApi, type SantaMachine } from "../api.js";
import { utcSeconds } from "../audit/format.js";
import { ListMemory, Pager, usePagedList } from "../paged-list.js";
import { relative } from "../reviews/logic.js";
import { navigate } from "../router.js";
import {
  type FleetFilter,
  fleetFailure,
  fleetHash,
  machineHash,
  machinesUrl,
  needsALook,
  pageTroubles,
  readFleetFilter,
  santaIsOff,
  troubleOf,
} from "./logic.js";
import { SantaOff } from "./parts.js";

const PAGE_SIZE = 50;

/** The fleet an analyst left to open a machine: its address, page and row, to come back to. */
export const fleetLists = new ListMemory("#/fleet");

export function FleetPage({ params }: { params: URLSearchParams }) {
  const query = params.toString();
  const { filter, problems } = useMemo(
    () => readFleetFilter({ group: params.get("group") }),
    [query],
  );
  // Santa off is the server's state, whatever the filter: no form to narrow a fleet there is not
  const [off, setOff] = useState(false);
  useEffect(() => {
    document.title = "Fleet · Clearance";
  }, []);
  return (
    <>
      <h1 class="page-title">Fleet: Santa machines</h1>
      {off ? (
        <SantaOff />
      ) : (
        <>
          {/* a new address (Back, a group's link) mounts the form again with its own filter */}
          <FleetForm key={fleetHash(filter)} filter={filter} urlProblem={problems[0]?.message} />
          {problems.length > 0 ? (
            <p class="notice" role="alert">
              This address has a filter the API would refuse; correct the field marked above.
            </p>
          ) : (
            <Machines key={fleetHash(filter)} filter={filter} onSantaOff={() => setOff(true)} />
          )}
        </>
      )}
    </>
  );
}

function FleetForm({ filter, urlProblem }: { filter: FleetFilter; urlProblem?: string }) {
  const [group, setGroup] = useState(filter.group ?? "");
  const [problem, setProblem] = useState(urlProblem);
  const submit = (event: Event) => {
    event.preventDefault();
    const read = readFleetFilter({ group });
    setProblem(read.problems[0]?.message);
    if (read.problems.length === 0) navigate(fleetHash(read.filter));
    else document.getElementById("fleet-group")?.focus();
  };
  return (
    <form class="search" aria-label="Filter the fleet" onSubmit={submit}>
      <div class="fields">
        <div class="field">
          <label for="fleet-group">Group</label>
          <input
            id="fleet-group"
            type="text"
            class="mono"
            placeholder="every group"
            autoComplete="off"
            spellcheck={false}
            value={group}
            onInput={(e) => setGroup(e.currentTarget.value)}
            aria-invalid={problem ? "true" : undefined}
            aria-describedby={problem ? "fleet-group-problem" : undefined}
          />
          {problem && (
            <span class="field-problem" id="fleet-group-problem">
              {problem}
            </span>
          )}
        </div>
      </div>
      <div class="actions">
        <button type="submit" class="primary">
          Filter
        </button>
        <a class="button" href="#/fleet">
          Clear
        </a>
        <span class="hint" aria-hidden="true">
          <kbd>j</kbd> <kbd>k</kbd> move · <kbd>Enter</kbd> open · <kbd>Esc</kbd> back
        </span>
      </div>
    </form>
  );
}

function Machines({ filter, onSantaOff }: { filter: FleetFilter; onSantaOff: () => void }) {
  const list = usePagedList({
    hash: fleetHash(filter),
    memory: fleetLists,
    load: (cursor) => fleetApi.machines(machinesUrl(filter, PAGE_SIZE, cursor)),
    rows: (page) => page.machines,
    nextCursor: (page) => page.nextCursor,
    // the list keeps a failure as words; Santa being off is an empty state, not a failure
    describeError: (error) => {
      if (santaIsOff(error)) onSantaOff();
      return fleetFailure(error);
    },
    rowHash: machineHash,
  });
  const { error, loading, depth, selected, select: setSelected, body } = list;
  const machines = list.answer?.machines ?? [];
  // "3 min ago" as of the page's arrival
  const now = useMemo(() => Date.now(), [list.answer]);
  if (error)
    return (
      <p class="notice error" role="alert">
        {error}
      </p>
    );
  const pager = (
    <Pager
      state={list.pager}
      label="Pages of machines"
      count={machines.length}
      noun={["machine", "machines"]}
      buttons={["← Previous", "Next →"]}
    />
  );
  return (
    <section aria-labelledby="fleet-title" aria-busy={loading}>
      <div class="results-head">
        <h2 id="fleet-title">
          {filter.group ? (
            <>
              Machines of group <code>{filter.group}</code>, by id
            </>
          ) : (
            "Machines, by id"
          )}
        </h2>
        {pager}
      </div>
      {!loading && machines.length === 0 ? (
        <NoMachines filter={filter} />
      ) : (
        <>
          <Summary machines={machines} loading={loading} />
          <table class={loading ? "entries fleet stale" : "entries fleet"}>
            <caption class="sr-only">
              Santa machines by id, page {depth}; j and k move, Enter opens
            </caption>
            <thead>
              <tr>
                <th scope="col">Host name and machine id</th>
                <th scope="col">Group</th>
                <th scope="col">Mode (reported)</th>
                <th scope="col">Santa version</th>
                <th scope="col">Last completed sync</th>
                <th scope="col" class="num">
                  Rules behind
                </th>
                <th scope="col" class="num">
                  Events reported
                </th>
              </tr>
            </thead>
            <tbody ref={body}>
              {machines.map((m, i) => (
                <MachineRow
                  key={m.id}
                  machine={m}
                  now={now}
                  selected={i === selected}
                  select={() => setSelected(i)}
                />
              ))}
            </tbody>
          </table>
        </>
      )}
      {machines.length > 10 && <div class="results-foot">{pager}</div>}
    </section>
  );
}

function MachineRow({
  machine: m,
  now,
  selected,
  select,
}: {
  machine: SantaMachine;
  now: number;
  selected: boolean;
  select: () => void;
}) {
  const trouble = troubleOf(m);
  const classes = [selected ? "selected" : "", needsALook(trouble) ? "trouble" : ""]
    .filter(Boolean)
    .join(" ");
  return (
    <tr class={classes || undefined} aria-current={selected ? "true" : undefined} onClick={select}>
      <td class="host">
        <a class="open" href={machineHash(m.id)} onFocus={select}>
          {m.hostname === "" ? <span class="mono">{m.id}</span> : m.hostname}
        </a>
        <span class="machine-id mono">{m.hostname === "" ? "no host name reported" : m.id}</span>
      </td>
      <td>
        <a class="quiet" href={fleetHash({ group: m.group })} title={`only group ${m.group}`}>
          {m.group}
        </a>
      </td>
      <td class="mono small">{m.clientMode ?? <span class="muted">not reported</span>}</td>
      <td class="mono small">
        {m.santaVersion === "" ? <span class="muted">not reported</span> : m.santaVersion}
      </td>
      <td class="sync">
        {m.lastSyncAt === null ? (
          <>
            <span class="flag-trouble flag-never">
              <span aria-hidden="true">✕</span> never synced
            </span>
            <span class="when">registered {relative(m.registeredAt, now)}</span>
          </>
        ) : (
          <>
            <span class="nowrap">{relative(m.lastSyncAt, now)}</span>
            <span class="when mono">{utcSeconds(m.lastSyncAt)} UTC</span>
          </>
        )}
        {m.syncing !== null && (
          <span class="flag-trouble flag-open">
            <span aria-hidden="true">⋯</span> {m.syncing} sync not completed
            {m.lastPreflightAt !== null && `, begun ${relative(m.lastPreflightAt, now)}`}
          </span>
        )}
      </td>
      <td class="num">
        {m.rulesBehind > 0 ? (
          <span class="flag-trouble flag-behind">
            <span aria-hidden="true">▲</span> {m.rulesBehind}
          </span>
        ) : (
          <span class="muted">0</span>
        )}
      </td>
      <td class="num">{m.eventsReceived}</td>
    </tr>
  );
}

/** The page's troubles in a line: read before the table, counted on this page only. */
function Summary({ machines, loading }: { machines: SantaMachine[]; loading: boolean }) {
  if (loading) return null;
  const t = pageTroubles(machines);
  const parts: string[] = [];
  if (t.behind > 0) parts.push(`${t.behind} behind on the group's rules`);
  if (t.neverSynced > 0) parts.push(`${t.neverSynced} never completed a sync`);
  if (t.syncOpen > 0) parts.push(`${t.syncOpen} with a sync begun and not completed`);
  const of = `${t.machines} machine${t.machines === 1 ? "" : "s"} on this page`;
  return parts.length === 0 ? (
    <p class="fleet-summary">
      <span aria-hidden="true">✓</span> {of}: every one completed a sync and confirmed its group's
      rule changes.
    </p>
  ) : (
    <p class="fleet-summary fleet-summary-trouble">
      <span aria-hidden="true">⚠</span> {of}: {parts.join(", ")}.
    </p>
  );
}

function NoMachines({ filter }: { filter: FleetFilter }) {
  return filter.group ? (
    <p class="notice">
      No machine is registered in group <code>{filter.group}</code>. The API lists machines, not
      groups: a group without machines and a name no group in <code>santa.groups</code> has look the
      same here. <a href="#/fleet">See every group's machines</a>.
    </p>
  ) : (
    <section class="notice" aria-labelledby="no-machines-title">
      <h2 id="no-machines-title">No machine has enrolled yet</h2>
      <p>
        Santa is on, but no agent has synced with this server. A machine registers at its first
        sync, with its group's enrollment token as <code>Authorization: Bearer</code> (Santa's{" "}
        <code>SyncExtraHeaders</code>) and <code>SyncBaseURL</code> set to this server's{" "}
        <code>/santa/v1/</code>: <code>docs/endpoints.md</code>, "Tokens" and "Santa's
        configuration", says how.
      </p>
    </section>
  );
}
