import { useEffect, useState } from "preact/hooks";
import { api, describeError, type EntrySummary, type Verification } from "../api.js";
import { utc } from "./format.js";

// Verifying recomputes every hash of the log, which takes seconds on a large one: it runs once
// when the first entry is opened and is shared by the entries opened after, with the time it ran;
// "Verify again" runs it anew.

interface Checked {
  at: string;
  result?: Verification;
  error?: string;
}

let last: Promise<Checked> | undefined;

function verify(): Promise<Checked> {
  last = api.verify().then(
    (result) => ({ at: new Date().toISOString(), result }),
    (e: unknown) => ({ at: new Date().toISOString(), error: describeError(e) }),
  );
  return last;
}

export function ChainState({ entry }: { entry: EntrySummary }) {
  const [checked, setChecked] = useState<Checked | null>(null);
  const run = (again: boolean) => {
    setChecked(null);
    let live = true;
    (again || !last ? verify() : last).then((c) => live && setChecked(c));
    return () => {
      live = false;
    };
  };
  useEffect(() => run(false), []);

  if (!checked)
    return (
      <p class="chain-state pending" role="status">
        Verifying the audit log's chains…
      </p>
    );
  const again = (
    <button type="button" onClick={() => run(true)}>
      Verify again
    </button>
  );
  if (checked.error)
    return (
      <div class="chain-state unknown" role="status">
        <p>
          <strong>Not verified.</strong> {checked.error}
        </p>
        {again}
      </div>
    );
  const v = checked.result!;
  const when = `checked ${utc(checked.at)} UTC`;
  if (v.damage)
    return (
      <div class="chain-state broken" role="status">
        <p>
          <strong>
            <span aria-hidden="true">✕ </span>The audit store is damaged
          </strong>{" "}
          ({v.damage.where}): {v.damage.message}; {when}.
        </p>
        {again}
      </div>
    );
  if (!v.ok && v.broken) {
    const b = v.broken;
    const affected = b.chain === entry.chain && entry.seq >= b.seq;
    return (
      <div class="chain-state broken" role="status">
        <p>
          <strong>
            <span aria-hidden="true">✕ </span>Chain broken
          </strong>
          : chain <code>{b.chain}</code> at seq {b.seq}: {b.problem}; {when}.
        </p>
        <p>
          {affected
            ? "This entry is at or after the break: its record cannot be trusted."
            : "This entry is before the break or on another chain."}
        </p>
        {again}
      </div>
    );
  }
  const chain = v.chains.find((c) => c.chain === entry.chain);
  const covered = chain !== undefined && entry.seq >= chain.from && entry.seq <= chain.to;
  return (
    <div class={`chain-state ${covered ? "verified" : "unknown"}`} role="status">
      <p>
        <strong>
          <span aria-hidden="true">✓ </span>Chains verified
        </strong>
        : {v.entries} {v.entries === 1 ? "entry" : "entries"} in {v.chains.length}{" "}
        {v.chains.length === 1 ? "chain" : "chains"} hash correctly; {when}.
      </p>
      <p>
        {covered
          ? `This entry (seq ${entry.seq}) is within the verified part of chain ${entry.chain} (seq ${chain.from} to ${chain.to}).`
          : "This entry was recorded after the check, or its chain was not seen: verify again."}
      </p>
      {again}
    </div>
  );
}
