/**
 * Signing in to the console in a real headless Chromium, through a real OpenID provider
 * (`oidc-provider` on loopback, its own login form), against a real server with OpenID Connect and
 * API keys configured. Skipped when /usr/bin/chromium is absent unless CLEARANCE_TEST_BROWSER=1.
 * Needs the console built (`pnpm build`). Screenshots go to out/screenshots/.
 */
// biome-ignore-all lint/performance/useDomNodeTextContent: these are Playwright's innerText(), the text as the analyst sees it
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiKey, type RunningServer, resolveConfig, startServer } from "@clearance/server";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  axeViolations,
  browserAvailability,
  launchBrowser,
  REPO,
  SCREENSHOTS,
  type WatchedPage,
  watchedPage,
} from "../../../test/support/browser.js";
import {
  freePort,
  listenProvider,
  oidcConfig,
  signInAtProvider,
  type TestProvider,
} from "./oidc-provider.js";

const BUILT = join(REPO, "packages/server/console/index.html");
const { skip: SKIP, titleSuffix } = browserAvailability("signin-browser.test.ts");

const HOSTILE = "<script>alert(1)</script>.exe";
const ACCOUNTS = {
  alice: { email: "alice@example.com", groups: ["sec-reviewers", "staff"] },
  mallory: { email: "mallory@example.com", groups: ["marketing"] },
};

describe.skipIf(SKIP)(`signing in to the console in headless Chromium${titleSuffix}`, () => {
  let dir = "";
  let provider: TestProvider | undefined;
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;
  const writer = createApiKey();
  const reviewerKey = createApiKey();

  beforeAll(async () => {
    if (!existsSync(BUILT))
      throw new Error(`the console is not built (no ${BUILT}): run \`pnpm build\` first`);
    dir = mkdtempSync(join(tmpdir(), "clearance-signin-browser-"));
    provider = await listenProvider(ACCOUNTS);
    const port = await freePort();
    server = await startServer(
      resolveConfig({
        server: { port, logLevel: "warn" },
        rules: { dir: join(REPO, "rules"), watch: false },
        audit: { sqlite: { path: join(dir, "audit.db"), synchronous: "normal" } },
        limits: { pressure: { maxEventLoopDelayMs: 0 } },
        auth: {
          keys: [
            { id: "ci", scopes: ["decide"], sha256: writer.sha256 },
            { id: "triage", scopes: ["review"], sha256: reviewerKey.sha256 },
          ],
          oidc: oidcConfig(provider, port, {
            "sec-reviewers": ["review", "audit:read"],
            "sec-admins": ["admin"],
          }),
          sessions: { secret: "a-session-secret-for-the-browser-test" },
        },
      }),
      { logger: false },
    );
    provider.start(`${server.url}/auth/callback`);
    // a decision for the Audit page to show, of a file named as markup
    const body = JSON.parse(readFileSync(join(REPO, "examples/requests/malware.json"), "utf8"));
    body.result.fileName = HOSTILE;
    const answer = await fetch(`${server.url}/v1/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${writer.secret}` },
      body: JSON.stringify(body),
    });
    expect(answer.status).toBe(200);
    context = await launchBrowser(join(dir, "profile"));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await provider?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = (url: string): Promise<WatchedPage> => watchedPage(context!, url);

  const signIn = (page: Page, login: string) =>
    signInAtProvider(page, provider!, server!.url, login);

  const session = (page: Page) => page.evaluate(async () => (await fetch("/v1/session")).json());

  it("signs a person in through the provider: header, Audit page, CSRF, sign out", async () => {
    const { page, errors } = await open(`${server!.url}/`);
    // signed out: the sign-in page, with both ways in, returning to the Audit page afterwards
    await page.locator("#signin-title").waitFor();
    expect(page.url()).toBe(`${server!.url}/#/sign-in?return=%2F`);
    expect(await page.getByLabel("API key").getAttribute("type")).toBe("password");
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, "console-sign-in.png") });

    expect(errors).toEqual([]);
    await signIn(page, "alice");
    await expect.poll(() => page.url()).toBe(`${server!.url}/#/audit`);
    // the provider's pages load web fonts and a favicon that are not there: its errors are its own
    const back = errors.length;
    const account = page.locator("header .account");
    await expect.poll(() => account.innerText()).toContain("alice@example.com");
    expect(await page.locator(".account-scopes li").allInnerTexts()).toEqual([
      "Read the audit log",
      "Review cases",
    ]);
    // the Audit page loads with the session, and the markup file name is text
    const rows = page.locator("table.entries tbody tr");
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().locator("td.name").innerText()).toBe(HOSTILE);
    expect(await page.locator("table.entries script").count()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOTS, "console-audit-signed-in.png") });
    expect(await axeViolations(page)).toEqual([]);

    // the cookie is HttpOnly and Strict; the session names the person as the log records them
    const cookies = await context!.cookies(server!.url);
    const cookie = cookies.find((c) => c.name === "clearance_session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
    expect(await page.evaluate(() => document.cookie)).not.toContain("clearance_session");
    expect(await session(page)).toMatchObject({
      mode: "signed-in",
      identity: "user:alice@example.com",
      via: "oidc",
      scopes: ["audit:read", "review"],
    });

    // the console's own change (verify the chains, from an entry) carries the token and passes
    await rows.first().locator("a.open").click();
    await expect
      .poll(() => page.locator(".chain-state").innerText(), { timeout: 15_000 })
      .toContain("Chains verified");
    // the same request without the token, from this very page, is refused
    const bare = await page.evaluate(async () => {
      const r = await fetch("/v1/audit/verify", { method: "POST" });
      return { status: r.status, body: await r.json() };
    });
    expect(bare).toMatchObject({ status: 403, body: { code: "csrf_refused" } });

    // a vote from the Reviews page is recorded under the person's sign-in, not a typed name
    const asked = await fetch(`${server!.url}/v1/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${writer.secret}` },
      body: JSON.stringify({
        result: JSON.parse(
          readFileSync(join(REPO, "examples/results/unsigned-lowscore.json"), "utf8"),
        ),
      }),
    });
    const caseId = ((await asked.json()) as { case: string }).case;
    expect(caseId).toMatch(/^[0-9a-f-]{36}$/);
    await page.goto(`${server!.url}/#/reviews/${caseId}`);
    const votingAs = page.getByLabel("Voting as");
    await expect.poll(() => votingAs.inputValue()).toBe("user:alice@example.com");
    expect(await votingAs.getAttribute("readonly")).not.toBeNull();
    await page.getByLabel("Approve").check();
    await page.getByLabel("Justification (required)").fill("vendor tool, checked with the owner");
    await page.screenshot({ path: join(SCREENSHOTS, "console-reviews-signed-in.png") });
    await page.getByRole("button", { name: "Send approval" }).click();
    await expect
      .poll(
        async () =>
          (await page.evaluate(async (id) => (await fetch(`/v1/reviews/${id}`)).json(), caseId))
            .case.votes,
      )
      .toMatchObject([{ voter: "user:alice@example.com", vote: "approve" }]);

    // sign out: back to the sign-in page, and the session is gone
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#signin-title").waitFor();
    expect(await page.getByRole("status").innerText()).toBe("You signed out.");
    expect((await session(page)).mode).toBe("signed-out");
    expect(await context!.cookies(server!.url)).not.toContainEqual(
      expect.objectContaining({ name: "clearance_session" }),
    );
    // the browser reports the refused fetch (403) itself as a console error: that one is expected
    expect(errors.slice(back).filter((e) => !e.includes("403"))).toEqual([]);
    await page.close();
  }, 120_000);

  it("refuses a cross-site POST: another site's form cannot use the session", async () => {
    const { page } = await open(`${server!.url}/`);
    await page.locator("#signin-title").waitFor();
    // by keyboard alone: Tab from the title to the provider's link, on to the key, Enter
    // the page moves focus to its title once it has rendered: after the title appears
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("signin-title");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(
      "Sign in with Test SSO",
    );
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("api-key");
    await page.keyboard.type(reviewerKey.secret);
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("header .account").innerText()).toContain("triage");
    // the key is nowhere the page keeps things
    expect(
      await page.evaluate(
        () =>
          JSON.stringify({ ...localStorage }) +
          JSON.stringify({ ...sessionStorage }) +
          location.href,
      ),
    ).not.toContain(reviewerKey.secret);
    // a page of another site (the provider's origin) posts a form to the API
    await page.goto(`${provider!.issuer}/.well-known/openid-configuration`);
    await page.setContent(
      `<form method="post" action="${server!.url}/v1/audit/verify"><button>go</button></form>`,
    );
    const answer = page.waitForResponse((r) => r.url().endsWith("/v1/audit/verify"));
    await page.getByRole("button", { name: "go" }).click();
    const refused = await answer;
    // SameSite=Strict: the browser does not even send the cookie from another site
    expect(refused.status()).toBe(401);
    expect((await refused.json()).code).toBe("unauthorized");
    await page.close();
  }, 60_000);

  it("a page the session lacks the scope for says which scope it needs", async () => {
    // still signed in with the review-only key of the previous test
    const { page } = await open(`${server!.url}/#/audit`);
    const alert = page.getByRole("alert");
    await expect
      .poll(() => alert.innerText())
      .toContain("The Audit page needs the scope audit:read (Read the audit log).");
    expect(await alert.innerText()).toContain("You (triage) have review.");
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, "console-audit-needs-scope.png") });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#signin-title").waitFor();
    // a wrong key is refused in words, on the form
    await page.getByLabel("API key").fill("clr_not-a-key");
    await page.getByRole("button", { name: "Sign in with the key" }).click();
    await expect
      .poll(() => page.locator("#api-key-problem").innerText())
      .toBe("this API key is not valid (it may have been rotated out)");
    expect(await page.getByLabel("API key").getAttribute("aria-invalid")).toBe("true");
    expect(await axeViolations(page)).toEqual([]);

    // signed in again, the session then ends under the page (here: a cookie this server did not
    // seal): the next request's 401 brings the sign-in page back, saying why, to return after
    await page.getByLabel("API key").fill(reviewerKey.secret);
    await page.getByRole("button", { name: "Sign in with the key" }).click();
    await expect.poll(() => page.locator("header .account").innerText()).toContain("triage");
    // back on the page it came from, with the session read again there: only then spoil it
    await expect.poll(() => page.url()).toBe(`${server!.url}/#/audit`);
    await page.waitForLoadState("networkidle");
    await context!.addCookies([
      { name: "clearance_session", value: "x".repeat(64), url: server!.url, httpOnly: true },
    ]);
    // straight away, as the link would: a page's own polling must not meet the cookie first
    await page.evaluate(() => {
      location.hash = "#/exceptions";
    });
    await expect
      .poll(() => page.url())
      .toBe(
        `${server!.url}/#/sign-in?${new URLSearchParams({ message: "the session cookie is not one this server issued (or its secret changed); sign in again", return: "/exceptions" })}`,
      );
    await expect
      .poll(() => page.getByRole("status").innerText())
      .toBe(
        "the session cookie is not one this server issued (or its secret changed); sign in again",
      );
    await page.close();
  }, 60_000);

  it("refuses, in words, a person whose groups map to no scope", async () => {
    // a new browser session at the provider too: alice's sign-in there must not be reused
    await context!.clearCookies();
    const { page } = await open(`${server!.url}/`);
    await page.locator("#signin-title").waitFor();
    await signIn(page, "mallory");
    const alert = page.getByRole("alert");
    await expect
      .poll(() => alert.innerText())
      .toBe(
        "Sign-in refused. none of mallory@example.com's groups (marketing) is mapped to a Clearance scope in auth.oidc.roles: ask an administrator for access",
      );
    // the server's backticked names are shown as code, as text
    expect(await alert.locator("code").allInnerTexts()).toEqual([
      "mallory@example.com",
      "groups",
      "marketing",
      "auth.oidc.roles",
    ]);
    expect((await session(page)).mode).toBe("signed-out");
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, "console-sign-in-refused.png") });
    await page.close();
  }, 90_000);
});
