import { useEffect, useRef, useState } from "preact/hooks";
import {
  api,
  type DiagnosticData,
  describeError,
  type EntryDetail,
  type PlaygroundDecision,
  type PlaygroundInput,
  playgroundApi,
  type RuleFile,
} from "../api.js";
import { ExplainTree } from "../audit/ExplainTree.js";
import { DecisionBadge, FileName, utc } from "../audit/format.js";
import type { RuleEditor } from "../editor/editor.js";
import { HistoryRun } from "./HistoryRun.js";

// The Playground: the live rules' files in an editor, decided as they are typed on an audit
// entry's stored input or a pasted result, beside the live rules' decision; then replayed over a
// period of recorded decisions. Everything runs on the server's playground endpoints, which
// compile without installing anything: the live rules never change from here.

/** Typing pauses this long before the candidate is decided again. */
const DEBOUNCE_MS = 300;

/** The files the candidate is made of: rule files are edited, `exceptions.json` goes as it is. */
const editable = (f: RuleFile) => f.path.endsWith(".rules");
const sent = (f: RuleFile) => editable(f) || f.path === "exceptions.json";

export function PlaygroundPage({ params }: { params: URLSearchParams }) {
  const entryId = params.get("entry");
  const [files, setFiles] = useState<RuleFile[] | null>(null);
  const [current, setCurrent] = useState<string>("");
  const [loadError, setLoadError] = useState<string | null>(null);
  const [entry, setEntry] = useState<EntryDetail | null>(null);
  const [pasted, setPasted] = useState<unknown>(null);
  const [answer, setAnswer] = useState<PlaygroundDecision | null>(null);
  const [pending, setPending] = useState(false);
  const [decideError, setDecideError] = useState<string | null>(null);
  const [editorError, setEditorError] = useState<string | null>(null);
  const editorHost = useRef<HTMLDivElement>(null);
  const editor = useRef<RuleEditor | null>(null);
  /** every request is numbered: an answer older than the newest one asked for is dropped */
  const asked = useRef(0);
  // the editor's checker reads these when typing pauses: the other files and the input of now
  const filesNow = useRef<RuleFile[] | null>(null);
  filesNow.current = files;

  useEffect(() => {
    document.title = "Playground · Clearance";
    let live = true;
    playgroundApi.files().then(
      (r) => {
        if (!live) return;
        const kept = r.files.filter(sent);
        setFiles(kept);
        setCurrent(pickFile(kept));
      },
      (e: unknown) => live && setLoadError(describeError(e)),
    );
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    setEntry(null);
    if (entryId === null) return;
    let live = true;
    api.entry(entryId).then(
      (d) => live && setEntry(d),
      (e: unknown) => live && setLoadError(describeError(e)),
    );
    return () => {
      live = false;
    };
  }, [entryId]);

  const input: PlaygroundInput | null =
    pasted !== null ? { input: pasted } : entryId !== null ? { auditId: entryId } : null;
  const inputNow = useRef<PlaygroundInput | null>(null);
  inputNow.current = input;

  /**
   * The editor's checker: the candidate (the other files as they are, this one as typed) decided
   * on the input, which answers the decision shown and the diagnostics marked, in one request.
   * `null` (the marks stay) without an input or when a newer request was made.
   */
  const decideWith =
    (path: string) =>
    async (text: string): Promise<DiagnosticData[] | null> => {
      const all = filesNow.current;
      const on = inputNow.current;
      if (!all || !on) return null;
      const candidate = all.map((f) => (f.path === path ? { ...f, text } : f));
      const n = ++asked.current;
      setPending(true);
      try {
        const a = await playgroundApi.decide(candidate, on);
        if (n !== asked.current) return null;
        setAnswer(a);
        setDecideError(null);
        setPending(false);
        return a.diagnostics.filter((d) => d.file === path);
      } catch (e) {
        if (n === asked.current) {
          setDecideError(describeError(e));
          setPending(false);
        }
        return null;
      }
    };

  // the editor: loaded on first use, one per file shown, its text kept in `files` as typed
  useEffect(() => {
    if (!files || !current || !editorHost.current) return;
    const file = files.find((f) => f.path === current);
    if (!file) return;
    let cancelled = false;
    import("../editor/editor.js").then(
      ({ createRuleEditor, ruleSchema }) => {
        if (cancelled || !editorHost.current) return;
        editor.current?.destroy();
        editor.current = createRuleEditor({
          host: editorHost.current,
          text: file.text,
          label: `Text of ${file.path}`,
          schema: ruleSchema(files.map((f) => f.text)),
          check: decideWith(file.path),
          checkDelay: DEBOUNCE_MS,
          onChange: (text) =>
            setFiles((fs) =>
              fs === null ? fs : fs.map((f) => (f.path === file.path ? { ...f, text } : f)),
            ),
        });
      },
      (e: unknown) => setEditorError(`the editor could not be loaded: ${String(e)}`),
    );
    return () => {
      cancelled = true;
    };
    // a new editor for another file only: typing changes `files`, not the file shown
  }, [current, files === null]);

  useEffect(() => () => editor.current?.destroy(), []);

  // a new input is decided at once; typing is decided by the editor's checker as it pauses (a
  // new editor asks it once made). Without an editor (its script failed to load) the live text
  // is still decided, so the page keeps answering.
  useEffect(() => {
    if (!input) return;
    if (editor.current) editor.current.check();
    else if (editorError !== null && files)
      void decideWith(current)(files.find((f) => f.path === current)?.text ?? "");
  }, [entryId, pasted, editorError]);

  const goTo = (d: DiagnosticData) => {
    if (d.file !== current) {
      setCurrent(d.file);
      // the new file's editor is made by the effect above; move there once it exists
      window.setTimeout(() => editor.current?.select(d.span.start), 50);
    } else editor.current?.select(d.span.start);
  };

  return (
    <section class="playground" aria-labelledby="playground-title">
      <h1 id="playground-title" class="page-title">
        Playground
      </h1>
      <p class="notice">
        Try a change to the rules before it is made. The rules below are a copy of the live rules:
        edit them, and the server compiles and decides with your copy for this page only.{" "}
        <strong>Nothing here changes the live rules</strong> or records a decision.
      </p>
      {loadError && (
        <p class="notice error" role="alert">
          {loadError}
        </p>
      )}

      <InputPanel
        entryId={entryId}
        entry={entry}
        pasted={pasted}
        onPaste={(value) => setPasted(value)}
        onClearPaste={() => setPasted(null)}
      />

      <div class="pg-grid">
        <section class="panel pg-rules" aria-labelledby="pg-rules-title">
          <div class="pg-rules-head">
            <h2 id="pg-rules-title">Candidate rules</h2>
            {files && (
              <div class="field pg-file">
                <label for="pg-file">Rule file</label>
                <select
                  id="pg-file"
                  value={current}
                  onChange={(e) => setCurrent((e.target as HTMLSelectElement).value)}
                >
                  {files.filter(editable).map((f) => (
                    <option key={f.path} value={f.path}>
                      {f.path}
                    </option>
                  ))}
                </select>
              </div>
            )}
          </div>
          {!files && !loadError && <p role="status">Loading the live rules…</p>}
          {editorError && (
            <p class="notice error" role="alert">
              {editorError}
            </p>
          )}
          <div class="pg-editor" ref={editorHost} />
          <p class="hint">
            <kbd>Tab</kbd> indents; <kbd>Esc</kbd> then <kbd>Tab</kbd> leaves the editor. Lists are
            read from the live rules.
          </p>
          <Diagnostics answer={answer} onSelect={goTo} />
        </section>

        <section class="panel pg-result" aria-labelledby="pg-result-title" aria-busy={pending}>
          <h2 id="pg-result-title">Decision</h2>
          {!input && (
            <p class="muted">
              Open an entry of the <a href="#/audit">audit log</a> in the playground, or paste a
              result above, to see the candidate decide it.
            </p>
          )}
          {decideError && (
            <p class="notice error" role="alert">
              {decideError}
            </p>
          )}
          {input && <Outcome answer={answer} pending={pending} />}
        </section>
      </div>

      {files && <HistoryRun files={files} />}
    </section>
  );
}

/** The file shown first: the first rule file in path order. */
function pickFile(files: RuleFile[]): string {
  return files.find(editable)?.path ?? "";
}

function InputPanel({
  entryId,
  entry,
  pasted,
  onPaste,
  onClearPaste,
}: {
  entryId: string | null;
  entry: EntryDetail | null;
  pasted: unknown;
  onPaste: (value: unknown) => void;
  onClearPaste: () => void;
}) {
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const use = (event: Event) => {
    event.preventDefault();
    try {
      onPaste(JSON.parse(text));
      setProblem(null);
    } catch (e) {
      setProblem(`this is not JSON: ${(e as Error).message}`);
    }
  };
  return (
    <section class="panel pg-input" aria-labelledby="pg-input-title">
      <h2 id="pg-input-title">Input</h2>
      {pasted === null && entryId !== null && (
        <p>
          The stored input of audit entry{" "}
          <a href={`#/audit/${encodeURIComponent(entryId)}`} class="mono">
            {entryId}
          </a>
          {entry && (
            <>
              : <strong class="pg-name">{<FileName name={entry.entry.fileName} />}</strong>,
              recorded <DecisionBadge decision={entry.entry.decision} /> by{" "}
              <code>{entry.entry.rule ?? "(default)"}</code> at {utc(entry.entry.time)} UTC
            </>
          )}
          .
        </p>
      )}
      {pasted !== null && (
        <p>
          A pasted result.{" "}
          <button type="button" onClick={onClearPaste}>
            {entryId ? "Back to the audit entry" : "Clear"}
          </button>
        </p>
      )}
      <details>
        <summary>Paste a result (canonical or VirusTotal)</summary>
        <form class="pg-paste" onSubmit={use}>
          <div class="field">
            <label for="pg-paste">Result JSON</label>
            <textarea
              id="pg-paste"
              class="mono"
              rows={6}
              value={text}
              aria-invalid={problem !== null}
              aria-describedby={problem ? "pg-paste-problem" : undefined}
              onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
            />
          </div>
          {problem && (
            <p id="pg-paste-problem" class="field-problem">
              {problem}
            </p>
          )}
          <button type="submit" class="primary">
            Decide this result
          </button>
        </form>
      </details>
    </section>
  );
}

function Diagnostics({
  answer,
  onSelect,
}: {
  answer: PlaygroundDecision | null;
  onSelect: (d: DiagnosticData) => void;
}) {
  if (!answer) return null;
  const list = answer.diagnostics;
  const errors = list.filter((d) => d.severity === "error").length;
  return (
    <div class="pg-diagnostics">
      <h3>
        Diagnostics{" "}
        <span class="muted">
          {list.length === 0
            ? "none: the candidate compiles"
            : `${errors} error${errors === 1 ? "" : "s"}, ${list.length - errors} other`}
        </span>
      </h3>
      {list.length > 0 && (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard (WCAG 2.1.1)
        <ul tabIndex={0} aria-label="Diagnostics of the candidate rules">
          {list.map((d, i) => (
            <li key={i} class={`diag diag-${d.severity}`}>
              <button type="button" class="linkish" onClick={() => onSelect(d)}>
                <span class="diag-sev">{d.severity}</span>{" "}
                <span class="mono">
                  {d.file}:{d.line}:{d.column}
                </span>{" "}
                <code>[{d.code}]</code> {d.message}
              </button>
              {d.help && <p class="muted diag-help">help: {d.help}</p>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Outcome({ answer, pending }: { answer: PlaygroundDecision | null; pending: boolean }) {
  if (!answer)
    return <p role="status">{pending ? "Deciding…" : "Waiting for the first decision."}</p>;
  const { live, candidate } = answer;
  const changed = candidate !== null && candidate.decision !== live.decision;
  return (
    <>
      <p role="status" class="pg-status">
        {pending
          ? "Deciding again…"
          : candidate === null
            ? "The candidate does not compile: fix the errors listed."
            : changed
              ? "The decision changes."
              : "The decision is the same."}
      </p>
      <div class="pg-compare">
        <span class="label">live</span>
        <span>
          <DecisionBadge decision={live.decision} /> <code>{live.rule ?? "(default)"}</code>
        </span>
        <span class="label">
          <span aria-hidden="true">→ </span>candidate
        </span>
        <span>
          {candidate ? (
            <>
              <DecisionBadge decision={candidate.decision} />{" "}
              <code>{candidate.rule ?? "(default)"}</code>
            </>
          ) : (
            <span class="muted">does not compile</span>
          )}
          {changed && <span class="tag tag-changed">changed</span>}
        </span>
      </div>
      <dl class="facts">
        <dt>File</dt>
        <dd>
          <FileName name={answer.input.fileName} />
        </dd>
        <dt>SHA-256</dt>
        <dd class="mono break">{answer.input.sha256}</dd>
        <dt>Live reason</dt>
        <dd>{live.reason}</dd>
        {candidate && (
          <>
            <dt>Candidate reason</dt>
            <dd>{candidate.reason}</dd>
          </>
        )}
        <dt>Evaluated at</dt>
        <dd class="mono">{utc(answer.input.now)} UTC</dd>
      </dl>
      {candidate && (
        <>
          <h3>Explanation of the candidate's decision</h3>
          <ExplainTree explain={candidate.explain} decidingRule={candidate.rule} />
        </>
      )}
    </>
  );
}
