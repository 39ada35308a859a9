import { useEffect, useRef } from "preact/hooks";

// What the last vote came to, shown on the page the console moved to after it (the next case, or
// the queue): the reviewer reads the outcome there, without a step back.

export interface Outcome {
  fileName: string;
  caseId: string;
  lines: string[];
}

let last: Outcome | undefined;

export function rememberOutcome(outcome: Outcome): void {
  last = outcome;
}

/** The last vote's outcome, once: shown by the next page, then forgotten. */
export function LastOutcome() {
  const outcome = useRef(last);
  useEffect(() => {
    last = undefined;
  }, []);
  const o = outcome.current;
  if (!o) return null;
  return (
    <section class="notice outcome-notice" role="status" aria-labelledby="outcome-title">
      <h2 id="outcome-title">
        Your vote on <a href={`#/reviews/${o.caseId}`}>{o.fileName}</a>
      </h2>
      {o.lines.map((l, i) => (
        <p key={i}>{l}</p>
      ))}
    </section>
  );
}
