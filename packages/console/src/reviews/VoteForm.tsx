import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  type CaseView,
  type ExceptionKind,
  type ReviewPolicy,
  reviewsApi,
  signedInAs,
  type VoteAnswer,
} from "../api.js";
import { shortHash } from "../audit/format.js";
import { typing } from "../keys.js";
import {
  checkVote,
  expiryBounds,
  type FormProblem,
  refusal,
  rememberVoter,
  scopeOptions,
  toField,
  utcMinute,
  type Vote,
  type VoteField,
  voteOutcome,
  votingAs,
} from "./logic.js";

const storage = (): Storage | undefined => {
  try {
    return localStorage;
  } catch {
    return undefined;
  }
};

/** Approve or reject one open case, checked before it is sent; the server's refusals in words. */
export function VoteForm({
  kase,
  policy,
  forbidden,
  onVoted,
}: {
  kase: CaseView;
  policy: ReviewPolicy;
  forbidden: string | undefined;
  onVoted: (answer: VoteAnswer, lines: string[]) => void;
}) {
  const bounds = useMemo(() => expiryBounds(policy, Date.now()), [policy]);
  const identity = useMemo(() => votingAs(storage(), signedInAs()), []);
  const [voter, setVoter] = useState(identity.name);
  const [vote, setVote] = useState<Vote>(forbidden ? "reject" : "approve");
  const [justification, setJustification] = useState("");
  const [kind, setKind] = useState<ExceptionKind>("file");
  const [expires, setExpires] = useState(toField(bounds.defaultAt));
  const [never, setNever] = useState(false);
  const [problems, setProblems] = useState<FormProblem[]>([]);
  const [refused, setRefused] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const justificationRef = useRef<HTMLTextAreaElement>(null);
  const refusedRef = useRef<HTMLDivElement>(null);
  const options = scopeOptions(kase, vote);

  // a rejection covers the file only: a broader kind chosen for an approval falls back
  useEffect(() => {
    if (!options.some((o) => o.kind === kind)) setKind("file");
  }, [vote]);

  // a / r choose the vote and put the cursor in the justification
  // registered as it renders: a deferred effect waits for a paint headless Chromium may delay,
  // and keys pressed meanwhile would be lost
  useLayoutEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key !== "a" && event.key !== "r") return;
      event.preventDefault();
      if (event.key === "a" && forbidden) {
        setRefused(forbidden);
        return;
      }
      setVote(event.key === "a" ? "approve" : "reject");
      justificationRef.current?.focus();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [forbidden]);

  // moved as it renders: a deferred effect waits for a paint that headless Chromium may not make
  useLayoutEffect(() => {
    if (refused) refusedRef.current?.focus();
  }, [refused]);

  const problemOf = (field: VoteField) => problems.find((p) => p.field === field);
  const describedBy = (field: VoteField, hint?: string) =>
    [problemOf(field) ? `v-${field}-problem` : undefined, hint].filter(Boolean).join(" ") ||
    undefined;
  const problemText = (field: VoteField) => {
    const p = problemOf(field);
    return (
      p && (
        <span class="field-problem" id={`v-${field}-problem`}>
          {p.message}
        </span>
      )
    );
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setRefused(null);
    const checked = checkVote(
      { vote, justification, voter, kind, expires, never },
      kase,
      policy,
      Date.now(),
    );
    setProblems(checked.problems);
    if (!checked.body) {
      const first = checked.problems[0]!.field;
      document.getElementById(first === "vote" ? `v-vote-${vote}` : `v-${first}`)?.focus();
      return;
    }
    if (identity.editable) rememberVoter(storage(), voter);
    setSending(true);
    try {
      const answer = await reviewsApi.vote(kase.id, checked.body);
      onVoted(answer, voteOutcome(answer));
    } catch (error) {
      setRefused(refusal(error));
    } finally {
      setSending(false);
    }
  };

  return (
    <form class="vote" aria-label="Vote on this case" onSubmit={submit} noValidate>
      <div class="field">
        <label for="v-voter">Voting as</label>
        <input
          id="v-voter"
          type="text"
          autoComplete="username"
          spellcheck={false}
          value={voter}
          readOnly={!identity.editable}
          onInput={(e) => setVoter(e.currentTarget.value)}
          aria-invalid={problemOf("voter") ? "true" : undefined}
          aria-describedby={describedBy("voter", "v-voter-hint")}
        />
        <span class="small muted" id="v-voter-hint">
          {identity.editable
            ? "This server has no API keys: every vote names its voter. Remembered in this browser."
            : "Signed in: the vote is recorded under your sign-in."}
        </span>
        {problemText("voter")}
      </div>

      <fieldset class="choice">
        <legend>Vote</legend>
        <label class={forbidden ? "disabled" : undefined}>
          <input
            id="v-vote-approve"
            type="radio"
            name="vote"
            value="approve"
            checked={vote === "approve"}
            disabled={forbidden !== undefined}
            aria-describedby={forbidden ? "forbidden-reason" : undefined}
            onChange={() => setVote("approve")}
          />{" "}
          <span aria-hidden="true">✓</span> Approve
          {forbidden && <span class="muted small"> (forbidden: see above)</span>}
        </label>
        <label>
          <input
            id="v-vote-reject"
            type="radio"
            name="vote"
            value="reject"
            checked={vote === "reject"}
            onChange={() => setVote("reject")}
          />{" "}
          <span aria-hidden="true">✕</span> Reject
        </label>
        {problemText("vote")}
      </fieldset>

      <div class="field">
        <label for="v-justification">Justification (required)</label>
        <textarea
          id="v-justification"
          ref={justificationRef}
          rows={3}
          value={justification}
          onInput={(e) => setJustification(e.currentTarget.value)}
          aria-invalid={problemOf("justification") ? "true" : undefined}
          aria-describedby={describedBy("justification")}
          placeholder="Why: what you checked, and what you found"
        />
        {problemText("justification")}
      </div>

      <fieldset class="choice">
        <legend>The exception covers</legend>
        {options.map((o) => (
          <label key={o.kind} class="scope-option">
            <input
              id={`v-kind-${o.kind}`}
              type="radio"
              name="kind"
              value={o.kind}
              checked={kind === o.kind}
              onChange={() => setKind(o.kind)}
            />{" "}
            {o.label}{" "}
            <span class="mono small muted" title={o.covers}>
              {o.kind === "file" ? shortHash(o.covers) : o.covers}
            </span>
          </label>
        ))}
        {vote === "reject" ? (
          <span class="small muted">A rejection covers this file only.</span>
        ) : (
          options.length > 1 && (
            <span class="small muted">
              A broader exception needs {policy.broaderScopeApprovals} approvals asking for it.
            </span>
          )
        )}
        {problemText("kind")}
      </fieldset>

      <div class="field">
        <label for="v-expires">Expires (UTC)</label>
        <input
          id="v-expires"
          type="text"
          class="mono"
          autoComplete="off"
          spellcheck={false}
          value={expires}
          disabled={never}
          onInput={(e) => setExpires(e.currentTarget.value)}
          aria-invalid={problemOf("expires") ? "true" : undefined}
          aria-describedby={describedBy("expires", "v-expires-hint")}
        />
        <span class="small muted" id="v-expires-hint">
          Default {policy.exceptionExpiry.default} ({utcMinute(bounds.defaultAt)}); at most{" "}
          {policy.exceptionExpiry.max} ({utcMinute(bounds.maxAt)}).
        </span>
        {bounds.allowNever && (
          <label class="inline-check">
            <input
              type="checkbox"
              checked={never}
              onChange={(e) => setNever(e.currentTarget.checked)}
            />{" "}
            Never expires
          </label>
        )}
        {problemText("expires")}
      </div>

      {refused && (
        <div class="notice error refused" role="alert" tabIndex={-1} ref={refusedRef}>
          {refused}
        </div>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={sending}>
          {sending ? "Sending…" : vote === "approve" ? "Send approval" : "Send rejection"}
        </button>
        <span class="hint" aria-hidden="true">
          <kbd>a</kbd> approve · <kbd>r</kbd> reject · <kbd>Esc</kbd> back to the queue
        </span>
      </div>
    </form>
  );
}
