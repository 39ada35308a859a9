import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, describeError, type SessionView, sessionApi } from "../api.js";
import { Ticked } from "./Ticked.js";
import { returnPath } from "./words.js";

/**
 * `#/sign-in`: with OpenID Connect, a link to `/auth/login` (a full page load: the provider's page
 * comes next); when the server allows it, an API key form. The key lives in this form's state
 * until it is sent, never in storage; the server answers with an HttpOnly cookie.
 */
export function SignInPage({
  session,
  params,
  onSignedIn,
}: {
  session: SessionView;
  params: URLSearchParams;
  onSignedIn: (view: SessionView) => void;
}) {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [keyProblem, setKeyProblem] = useState<string | null>(null);
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = "Sign in · Clearance";
    title.current?.focus();
  }, []);
  const back = returnPath(params.get("return")) ?? "/";
  // why the person is here: refused by the provider's answer, a session that ended, or a 401
  const refused = params.get("refused");
  const message = params.get("message") ?? session.ended;
  const { oidc, apiKey } = session.signIn;

  async function submit(event: Event) {
    event.preventDefault();
    if (key.trim() === "") {
      setKeyProblem("enter an API key (it starts with `clr_`)");
      return;
    }
    setBusy(true);
    setKeyProblem(null);
    try {
      const view = await sessionApi.signInWithKey(key.trim());
      setKey("");
      onSignedIn(view);
      location.hash = `#${back}`;
    } catch (error) {
      setKeyProblem(
        error instanceof ApiError && error.status === 401
          ? "this API key is not valid (it may have been rotated out)"
          : describeError(error),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title" class="page-title" tabIndex={-1} ref={title}>
        Sign in to Clearance
      </h1>
      <p class="muted signin-intro">
        This server asks who you are. What you do in the console (a vote, a verification) is
        recorded in the audit log under the name you sign in with.
      </p>
      {refused !== null && (
        <div class="notice error" role="alert">
          <p>
            <strong>Sign-in refused.</strong> <Ticked text={refused} />
          </p>
        </div>
      )}
      {refused === null && message !== null && (
        <p class="notice" role="status">
          <Ticked text={message} />
        </p>
      )}
      <div class="signin-ways">
        {oidc !== null && (
          <div class="panel signin-way">
            <h2>Your organisation's account</h2>
            <p class="muted">You will be sent to {oidc.name} and brought back here.</p>
            <a
              class="button primary signin-oidc"
              href={`${oidc.url}?${new URLSearchParams({ return: back })}`}
            >
              Sign in with {oidc.name}
            </a>
          </div>
        )}
        {apiKey && (
          <form class="panel signin-way" onSubmit={submit} noValidate>
            <h2>An API key</h2>
            <p class="muted">
              For a one-person setup. The key is sent once; the console does not keep it.
            </p>
            <div class="field">
              <label for="api-key">API key</label>
              <input
                id="api-key"
                class="mono"
                type="password"
                autocomplete="off"
                spellcheck={false}
                value={key}
                onInput={(e) => setKey((e.target as HTMLInputElement).value)}
                aria-invalid={keyProblem !== null ? "true" : undefined}
                aria-describedby={keyProblem !== null ? "api-key-problem" : undefined}
              />
              {keyProblem !== null && (
                <span id="api-key-problem" class="field-problem">
                  <Ticked text={keyProblem} />
                </span>
              )}
            </div>
            <div class="actions">
              <button type="submit" class="primary" disabled={busy}>
                {busy ? "Signing in…" : "Sign in with the key"}
              </button>
            </div>
          </form>
        )}
        {oidc === null && !apiKey && (
          <p class="notice">
            This server has no way to sign in to the console: its administrator configures OpenID
            Connect (<code>auth.oidc</code>) or allows API keys (<code>auth.apiKeySignIn</code>).
          </p>
        )}
      </div>
    </section>
  );
}
