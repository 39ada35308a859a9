import { render } from "preact";
import { AuditPage } from "./audit/AuditPage.js";
import { EntryPage } from "./audit/EntryPage.js";
import { useRoute } from "./router.js";
import { RulePage } from "./rules/RulePage.js";
import { RulesPage } from "./rules/RulesPage.js";
import "./styles.css";

/** The pages there are; Reviews, Rules, Playground and Exceptions join this table when built. */
const PAGES = [
  { path: "audit", title: "Audit" },
  { path: "rules", title: "Rules" },
] as const;

function App() {
  const route = useRoute();
  const [page = "audit", id] = route.segments;
  let body: preact.ComponentChildren;
  if (page === "audit" && id !== undefined) body = <EntryPage id={id} />;
  else if (page === "audit") body = <AuditPage params={route.params} />;
  else if (page === "rules" && id !== undefined)
    body = <RulePage name={id} params={route.params} />;
  else if (page === "rules") body = <RulesPage params={route.params} />;
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
        <nav aria-label="Pages">
          <ul class="pages">
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={page === p.path ? "page" : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </>
  );
}

/** A button rather than a link to `#main`: the address's fragment is the router's. */
function skipToMain() {
  document.getElementById("main")?.focus();
}

render(<App />, document.getElementById("app")!);
