import type { Scope, SessionView } from "../api.js";
import { SCOPE_WORDS } from "./words.js";

/** The header's right side: who is signed in, what they may do (in words), and Sign out. */
export function Account({ session, onSignOut }: { session: SessionView; onSignOut: () => void }) {
  if (session.mode === "open")
    return (
      <p class="account">
        <span class="account-open">Open server: no sign-in (loopback, no keys)</span>
      </p>
    );
  if (session.mode !== "signed-in") return null;
  return (
    <div class="account">
      <span class="account-who">
        <span class="sr-only">Signed in as </span>
        <span class="account-name">{session.name}</span>
        <span class="account-via">{session.via === "key" ? " (API key)" : ""}</span>
      </span>
      <ul class="account-scopes" aria-label="Your scopes">
        {session.scopes.map((s) => (
          <li key={s} title={s}>
            {SCOPE_WORDS[s]}
          </li>
        ))}
      </ul>
      <button type="button" class="account-signout" onClick={onSignOut}>
        Sign out
      </button>
    </div>
  );
}

/** What a page says to someone whose scopes do not include what it needs. */
export function NeedsScope({
  session,
  page,
  scopes,
}: {
  session: SessionView;
  page: string;
  /** any of these opens the page */
  scopes: readonly Scope[];
}) {
  return (
    <section class="notice error scope-needed" role="alert">
      <h1>{page} needs another scope</h1>
      <p>
        The {page} page needs {scopes.length > 1 ? "one of the scopes " : "the scope "}
        {scopes.map((s, i) => (
          <span key={s}>
            {i > 0 ? " or " : ""}
            <code>{s}</code> ({SCOPE_WORDS[s]})
          </span>
        ))}
        . You (<strong>{session.name}</strong>) have{" "}
        {session.scopes.length === 0
          ? "no scope"
          : session.scopes.map((s, i) => (
              <span key={s}>
                {i > 0 ? ", " : ""}
                <code>{s}</code>
              </span>
            ))}
        . Ask an administrator for a role that gives it.
      </p>
    </section>
  );
}
