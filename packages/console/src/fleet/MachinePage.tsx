import { useEffect, useState } from "preact/hooks";
import { fleetApi, type SantaMachineDetail } from "../api.js";
import { utcSeconds } from "../audit/format.js";
import { useEscapeTo } from "../keys.js";
import { relative } from "../reviews/logic.js";
import { fleetLists } from "./FleetPage.js";
import {
  decisionLinks,
  fleetFailure,
  fleetHash,
  machinesUrl,
  needsALook,
  ruleChanges,
  santaIsOff,
  troubleOf,
} from "./logic.js";
import { SantaOff } from "./parts.js";

type Loaded =
  | { state: "loading" }
  | { state: "shown"; machine: SantaMachineDetail; now: number }
  | { state: "off" }
  | { state: "failed"; message: string };

export function MachinePage({ id }: { id: string }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: "loading" });
  useEffect(() => {
    let live = true;
    setLoaded({ state: "loading" });
    fleetApi.machine(id).then(
      (machine) => live && setLoaded({ state: "shown", machine, now: Date.now() }),
      async (error: unknown) => {
        // a 404 is an unregistered machine, or Santa off: the list's own 404 tells them apart
        const off = santaIsOff(error) && (await listIsOff());
        if (live)
          setLoaded(off ? { state: "off" } : { state: "failed", message: fleetFailure(error) });
      },
    );
    return () => {
      live = false;
    };
  }, [id]);
  const shown = loaded.state === "shown" ? loaded.machine : null;
  useEffect(() => {
    document.title = `${shown?.hostname || id} · Fleet · Clearance`;
    if (shown) document.getElementById("machine-title")?.focus();
  }, [shown]);
  useEscapeTo(() => fleetLists.back());

  const back = (
    <p class="back">
      <a href={fleetLists.back()}>← Back to the fleet</a> <span class="hint">(Esc)</span>
    </p>
  );
  if (loaded.state !== "shown")
    return (
      <>
        {back}
        {loaded.state === "off" ? (
          <SantaOff />
        ) : loaded.state === "failed" ? (
          <p class="notice error" role="alert">
            {loaded.message}
          </p>
        ) : (
          <p role="status">Loading machine {id}…</p>
        )}
      </>
    );
  return (
    <article class="machine" aria-labelledby="machine-title">
      {back}
      <Machine machine={loaded.machine} now={loaded.now} />
    </article>
  );
}

async function listIsOff(): Promise<boolean> {
  try {
    await fleetApi.machines(machinesUrl({}, 1));
    return false;
  } catch (error) {
    return santaIsOff(error);
  }
}

function Machine({ machine: m, now }: { machine: SantaMachineDetail; now: number }) {
  const trouble = troubleOf(m);
  const links = decisionLinks(m);
  const reported = (value: string) =>
    value === "" ? <span class="muted">not reported</span> : value;
  const time = (iso: string | null, none: string) =>
    iso === null ? (
      <span class="muted">{none}</span>
    ) : (
      <>
        {relative(iso, now)} <span class="mono small muted">{utcSeconds(iso)} UTC</span>
      </>
    );
  const row = (term: string, value: preact.ComponentChildren) => (
    <>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </>
  );
  const totalRules = m.rules.reduce((sum, r) => sum + r.rules, 0);
  return (
    <>
      <header class="entry-head">
        <h1 id="machine-title" tabIndex={-1}>
          {m.hostname === "" ? <span class="mono">{m.id}</span> : m.hostname}
        </h1>
        {trouble.neverSynced && (
          <span class="flag-trouble flag-never">
            <span aria-hidden="true">✕</span> never synced
          </span>
        )}
        {trouble.syncOpen !== null && (
          <span class="flag-trouble flag-open">
            <span aria-hidden="true">⋯</span> {trouble.syncOpen} sync not completed
          </span>
        )}
        {trouble.behind > 0 && (
          <span class="flag-trouble flag-behind">
            <span aria-hidden="true">▲</span> {ruleChanges(trouble.behind)} behind
          </span>
        )}
        {!needsALook(trouble) && (
          <span class="flag-ok">
            <span aria-hidden="true">✓</span> confirmed every rule change of its group
          </span>
        )}
      </header>
      <p class="mono hash-line">
        <span class="label">Machine id</span> {m.id} · <span class="label">Group</span>{" "}
        <a href={fleetHash({ group: m.group })}>{m.group}</a>
      </p>
      <div class="entry-grid">
        <section aria-labelledby="sync-title" class="panel">
          <h2 id="sync-title">Sync</h2>
          <dl class="facts">
            {row(
              "Last completed sync",
              m.lastSyncAt === null ? (
                <span class="flag-trouble flag-never">
                  <span aria-hidden="true">✕</span> never: no sync of this machine has completed
                </span>
              ) : (
                time(m.lastSyncAt, "")
              ),
            )}
            {row(
              "Sync in progress",
              m.syncing === null ? (
                <span class="muted">none</span>
              ) : (
                <span class="flag-trouble flag-open">
                  <span aria-hidden="true">⋯</span> a {m.syncing} sync, begun at its last preflight,
                  not completed (no postflight)
                </span>
              ),
            )}
            {row("Last preflight", time(m.lastPreflightAt, "none"))}
            {row(
              "Rules behind",
              m.rulesBehind > 0 ? (
                <span class="flag-trouble flag-behind">
                  <span aria-hidden="true">▲</span> {ruleChanges(m.rulesBehind)} of the group not
                  confirmed
                </span>
              ) : (
                "0: it confirmed every rule change of its group"
              ),
            )}
            {row("Rule changes confirmed", m.rulesAcked)}
            {row(
              "Last sync's rules",
              m.lastSyncAt === null ? (
                <span class="muted">none: it sent no postflight</span>
              ) : (
                `${m.rulesReceived} received, ${m.rulesProcessed} processed (as its last postflight said)`
              ),
            )}
            {row("Rules it held", `${m.ruleCount} at its last preflight`)}
            {row("Mode", m.clientMode === null ? reported("") : `${m.clientMode} (as reported)`)}
            {row("Events reported", `${m.eventsReceived} since it registered`)}
            {row("Registered", time(m.registeredAt, ""))}
          </dl>
        </section>
        <section aria-labelledby="facts-title" class="panel">
          <h2 id="facts-title">The machine, as its agent reported it</h2>
          <dl class="facts">
            {row("Host name", reported(m.hostname))}
            {row("Machine id", <span class="mono">{m.id}</span>)}
            {row("Serial number", <span class="mono">{reported(m.serial)}</span>)}
            {row("Model", reported(m.model))}
            {row(
              "macOS",
              m.osVersion === "" && m.osBuild === ""
                ? reported("")
                : `${m.osVersion}${m.osBuild === "" ? "" : ` (${m.osBuild})`}`,
            )}
            {row("Santa version", <span class="mono">{reported(m.santaVersion)}</span>)}
            {row("Primary user", reported(m.primaryUser))}
            {row("Group", <a href={fleetHash({ group: m.group })}>{m.group}</a>)}
          </dl>
        </section>
      </div>
      <div class="entry-grid">
        <section aria-labelledby="rules-title" class="panel">
          <h2 id="rules-title">
            Group <code>{m.group}</code>'s rules
          </h2>
          {m.rules.length === 0 ? (
            <p class="muted">
              The group has no standing rule: no decision of its machines' executions has become a
              Santa rule yet.
            </p>
          ) : (
            <>
              <p class="small muted">
                The rules this group's machines are sent, by type and policy: {totalRules} in all.
              </p>
              <table class="entries group-rules">
                <thead>
                  <tr>
                    <th scope="col">Rule type</th>
                    <th scope="col">Policy</th>
                    <th scope="col" class="num">
                      Rules
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {m.rules.map((r) => (
                    <tr key={`${r.ruleType} ${r.policy}`}>
                      <td class="mono">{r.ruleType}</td>
                      <td class="mono">{r.policy}</td>
                      <td class="num">{r.rules}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </section>
        <section aria-labelledby="decisions-title" class="panel">
          <h2 id="decisions-title">Its decisions</h2>
          <p>
            Each execution it reports is decided by the rules and recorded in the audit log with
            source <code>santa</code> and requester{" "}
            <code>
              {"santa:<user>@"}
              {m.id}
            </code>
            .
          </p>
          <ul class="plain">
            {links.primaryUser && (
              <li>
                <a href={links.primaryUser.hash}>
                  Executions by {links.primaryUser.user}, its primary user, on this machine
                </a>
              </li>
            )}
            <li>
              <a href={links.santa}>Every Santa decision, of every machine</a>
            </li>
          </ul>
          <p class="small muted">
            The audit log finds a requester by its whole name: other users' executions on this
            machine are among every Santa decision, not under its primary user's.
          </p>
        </section>
      </div>
    </>
  );
}
