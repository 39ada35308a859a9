import { render } from "preact";
import { AuditPage } from "./audit/AuditPage.js";
import { EntryPage } from "./audit/EntryPage.js";
import { ExceptionPage, ExceptionsPage } from "./exceptions/ExceptionsPage.js";
import { PlaygroundPage } from "./playground/PlaygroundPage.js";
import { CasePage } from "./reviews/CasePage.js";
import { Landing } from "./reviews/Landing.js";
import { ReviewsPage } from "./reviews/ReviewsPage.js";
import { useRoute } from "./router.js";
import { RulePage } from "./rules/RulePage.js";
import { RulesPage } from "./rules/RulesPage.js";
import "./styles.css";

/** The pages there are, in the order an analyst's day goes. */
const PAGES = [
  { path: "reviews", title: "Reviews" },
  { path: "exceptions", title: "Exceptions" },
  { path: "audit", title: "Audit" },
  { path: "rules", title: "Rules" },
  { path: "playground", title: "Playground" },
] as const;

function App() {
  const route = useRoute();
  const [page, id] = route.segments;
  let body: preact.ComponentChildren;
  // `#/`: Reviews when cases are waiting, else Audit (decided by the API's answer)
  if (page === undefined) body = <Landing />;
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
