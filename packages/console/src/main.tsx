import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  allows,
  describeError,
  onSessionLost,
  type Scope,
  type SessionView,
  sessionApi,
} from "./api.js";
import { AuditPage } from "./audit/AuditPage.js";
import { EntryPage } from "./audit/EntryPage.js";
import { ExceptionPage, ExceptionsPage } from "./exceptions/ExceptionsPage.js";
import { FleetPage } from "./fleet/FleetPage.js";
import { MachinePage } from "./fleet/MachinePage.js";
import { PlaygroundPage } from "./playground/PlaygroundPage.js";
import { CasePage } from "./reviews/CasePage.js";
import { Landing } from "./reviews/Landing.js";
import { ReviewsPage } from "./reviews/ReviewsPage.js";
import { navigate, parseHash, useRoute } from "./router.js";
import { RulePage } from "./rules/RulePage.js";
import { RulesPage } from "./rules/RulesPage.js";
import { Account, NeedsScope } from "./signin/Account.js";
import { SignInPage } from "./signin/SignInPage.js";
import { returnPath } from "./signin/words.js";
import "./styles.css";

/**
 * The pages there are, and the scopes that open them (any of them; `admin` opens all), as the
 * API's routes ask; Rules joins this table when built.
 */
const PAGES = [
  { path: "reviews", title: "Reviews", scopes: ["review"] },
  { path: "exceptions", title: "Exceptions", scopes: ["review", "exceptions"] },
  { path: "audit", title: "Audit", scopes: ["audit:read"] },
  { path: "rules", title: "Rules", scopes: ["audit:read", "decide"] },
  { path: "playground", title: "Playground", scopes: ["audit:read"] },
  { path: "fleet", title: "Fleet", scopes: ["audit:read"] },
] as const satisfies readonly { path: string; title: string; scopes: readonly Scope[] }[];

const needs = (page: string): readonly Scope[] | undefined =>
  PAGES.find((p) => p.path === page)?.scopes;
const titleOf = (page: string): string => PAGES.find((p) => p.path === page)?.title ?? page;
const allowsAny = (view: SessionView, scopes: readonly Scope[]): boolean =>
  scopes.some((s) => allows(view.scopes, s));

function App() {
  const route = useRoute();
  const [page, id] = route.segments;
  const signInPage = page === "sign-in";
  const session = useSession(signInPage);
  useEffect(() => {
    if (session.view === null) return;
    // the address as it is now (a navigation may be on its way to the route state)
    const live = parseHash(location.hash);
    const onSignIn = live.segments[0] === "sign-in";
    const here = location.hash.replace(/^#/, "") || "/";
    // signed out: every page but the sign-in page sends there, and comes back after
    if (session.view.mode === "signed-out" && !onSignIn)
      navigate(`#/sign-in?${new URLSearchParams({ return: here })}`);
    if (session.view.mode !== "signed-out" && onSignIn)
      navigate(`#${returnPath(live.params.get("return")) ?? "/"}`);
    // `#/` chooses between Reviews and Audit by the review queue: without `review`, Audit
    if (
      session.view.mode !== "signed-out" &&
      live.segments.length === 0 &&
      !allowsAny(session.view, ["review"])
    )
      location.replace("#/audit");
  }, [session.view, signInPage, page]);
  async function signOut() {
    try {
      await sessionApi.signOut();
      navigate(`#/sign-in?${new URLSearchParams({ message: "You signed out." })}`);
      session.lost();
    } catch (error) {
      session.setError(describeError(error));
    }
  }
  const view = session.view;
  let body: preact.ComponentChildren;
  if (session.error !== null)
    body = (
      <p class="notice error" role="alert">
        {session.error}
      </p>
    );
  else if (view === null) body = <p class="muted">Loading…</p>;
  else if (signInPage)
    body =
      view.mode === "signed-out" ? (
        <SignInPage session={view} params={route.params} onSignedIn={session.set} />
      ) : null;
  else if (view.mode === "signed-out") body = null;
  else if (page !== undefined && needs(page) !== undefined && !allowsAny(view, needs(page)!))
    body = <NeedsScope session={view} page={titleOf(page)} scopes={needs(page)!} />;
  // `#/`: Reviews when cases are waiting, else Audit (decided by the API's answer)
  else if (page === undefined) body = allowsAny(view, ["review"]) ? <Landing /> : null;
  else if (page === "reviews" && id !== undefined) body = <CasePage key={id} id={id} />;
  else if (page === "reviews") body = <ReviewsPage params={route.params} />;
  else if (page === "exceptions" && id !== undefined) body = <ExceptionPage key={id} id={id} />;
  else if (page === "exceptions") body = <ExceptionsPage params={route.params} />;
  else if (page === "audit" && id !== undefined) body = <EntryPage id={id} />;
  else if (page === "audit") body = <AuditPage params={route.params} />;
  else if (page === "playground") body = <PlaygroundPage params={route.params} />;
  else if (page === "rules" && id !== undefined)
    body = <RulePage name={id} params={route.params} />;
  else if (page === "rules") body = <RulesPage params={route.params} />;
  else if (page === "fleet" && id !== undefined) body = <MachinePage key={id} id={id} />;
  else if (page === "fleet") body = <FleetPage params={route.params} />;
  else
    body = (
      <section class="notice" role="alert">
        <h1>Not found</h1>
        <p>
          There is no page <code>{page}</code> in this console.{" "}
          <a href="#/audit">Open the audit log</a>.
        </p>
      </section>
    );
  return (
    <>
      <button type="button" class="skip" onClick={skipToMain}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">Clearance</span>
        {view?.mode !== "signed-out" && (
          <nav aria-label="Pages">
            <ul class="pages">
              {/* a page the person's scopes do not open is not offered; its address still says why */}
              {PAGES.filter((p) => view === null || allowsAny(view, p.scopes)).map((p) => (
                <li key={p.path}>
                  <a href={`#/${p.path}`} aria-current={page === p.path ? "page" : undefined}>
                    {p.title}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {view !== null && <Account session={view} onSignOut={signOut} />}
      </header>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </>
  );
}

/**
 * The session (GET /v1/session), read at start and again each time the sign-in page is entered:
 * after a 401, a sign-out, or the provider's redirect back.
 */
function useSession(signInPage: boolean) {
  const [view, set] = useState<SessionView | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    sessionApi.current().then(
      (v) => {
        if (!live) return;
        set(v);
        setError(null);
      },
      (e: unknown) => live && setError(describeError(e)),
    );
    return () => {
      live = false;
    };
  }, [signInPage]);
  // signed out now, as the server will say when the sign-in page asks again: until it answers,
  // the sign-in page must not take the old session for a live one and send the person back
  const lost = () =>
    set((v) =>
      v === null
        ? v
        : {
            ...v,
            mode: "signed-out",
            identity: null,
            name: null,
            via: null,
            scopes: [],
            csrfToken: null,
            ended: null,
          },
    );
  useEffect(() => onSessionLost(lost), []);
  return { view, set, error, setError, lost };
}

/** A button rather than a link to `#main`: the address's fragment is the router's. */
function skipToMain() {
  document.getElementById("main")?.focus();
}

render(<App />, document.getElementById("app")!);
