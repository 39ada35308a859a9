/**
 * The first "done when", end to end in real headless Chromium: two people sign in through a
 * real OpenID provider (`oidc-provider` on loopback, its own login form), each in a browser of
 * their own, and approve a pending case on the Reviews page; the file's decision becomes `allow`
 * on the Audit page, and the log records each vote under its person's sign-in. A third person,
 * without the `review` scope, is refused in words. Skipped when /usr/bin/chromium is absent unless
 * CLEARANCE_TEST_BROWSER=1. Needs the console built (`pnpm build`). Screenshots: out/screenshots/.
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
const { skip: SKIP, titleSuffix } = browserAvailability("review-flow-browser.test.ts");

const ACCOUNTS = {
  alice: { email: "alice@example.com", groups: ["sec-reviewers", "staff"] },
  bob: { email: "bob@example.com", groups: ["sec-reviewers"] },
  carol: { email: "carol@example.com", groups: ["auditors"] },
};

// biome-ignore lint/suspicious/noExplicitAny: answers are read by path, and checked by the assertions
type Json = Record<string, any>;

/**
 * A request the shipped rules answer `review`: an unsigned tool with a low trust score that no
 * rule matches (the rule set's default). examples/requests/ holds only a deny and an allow.
 */
const REQUEST = {
  result: JSON.parse(readFileSync(join(REPO, "examples/results/unsigned-lowscore.json"), "utf8")),
};
const SHA256: string = REQUEST.result.sha256;
const FILE_NAME: string = REQUEST.result.fileName;

describe.skipIf(SKIP)(
  `two people sign in and approve a case, in headless Chromium${titleSuffix}`,
  () => {
    let dir = "";
    let provider: TestProvider | undefined;
    let server: RunningServer | undefined;
    // one browser each: their own cookies, at the console and at the provider
    let alice: BrowserContext | undefined;
    let other: BrowserContext | undefined;
    let caseId = "";
    const writer = createApiKey();
    const auditor = createApiKey();

    /** The server's API with a key, as a script outside the console would call it. */
    const withKey = (key: string, path: string, init: RequestInit = {}) =>
      fetch(`${server!.url}${path}`, {
        ...init,
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      });

    beforeAll(async () => {
      if (!existsSync(BUILT))
        throw new Error(`the console is not built (no ${BUILT}): run \`pnpm build\` first`);
      dir = mkdtempSync(join(tmpdir(), "clearance-review-flow-browser-"));
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
              { id: "siem", scopes: ["audit:read"], sha256: auditor.sha256 },
            ],
            oidc: oidcConfig(provider, port, {
              "sec-reviewers": ["review", "audit:read"],
              auditors: ["audit:read"],
            }),
            sessions: { secret: "a-session-secret-for-the-review-flow-test" },
          },
          reviews: { approvalsRequired: 2, sweepIntervalMs: 3_600_000 },
        }),
        { logger: false },
      );
      provider.start(`${server.url}/auth/callback`);
      // a real request, with the `decide` key: the rules answer review, and a case opens
      const answer = await withKey(writer.secret, "/v1/decisions", {
        method: "POST",
        body: JSON.stringify(REQUEST),
      });
      expect(answer.status).toBe(200);
      const decided = (await answer.json()) as Json;
      expect(decided.decision).toBe("review");
      expect(decided.case).toMatch(/^[0-9a-f-]{36}$/);
      caseId = decided.case;
      alice = await launchBrowser(join(dir, "alice"));
      other = await launchBrowser(join(dir, "other"));
    }, 120_000);

    afterAll(async () => {
      await alice?.close();
      await other?.close();
      await server?.close();
      await provider?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function open(context: BrowserContext, url: string): Promise<WatchedPage> {
      const watched = await watchedPage(context);
      await watched.page.goto(url);
      return watched;
    }

    /** `#/`, signed out: the sign-in page, then the provider's form, and back to the console. */
    async function signIn(context: BrowserContext, login: keyof typeof ACCOUNTS) {
      const watched = await open(context, `${server!.url}/`);
      await watched.page.locator("#signin-title").waitFor();
      await signInAtProvider(watched.page, provider!, server!.url, login);
      await expect
        .poll(() => watched.page.locator("header .account").innerText())
        .toContain(ACCOUNTS[login].email);
      return watched;
    }

    /** On the case page: `a`, the justification typed, sent from the keyboard. */
    async function approveByKeyboard(page: Page, why: string) {
      await expect.poll(() => page.locator("#case-title").innerText()).toBe(FILE_NAME);
      await page.keyboard.press("a");
      await expect
        .poll(() => page.evaluate(() => document.activeElement?.id))
        .toBe("v-justification");
      expect(await page.locator("#v-vote-approve").isChecked()).toBe(true);
      await page.keyboard.type(why);
      // past the kind of exception (a file, the default) to the expiry; Enter there sends the form
      await page.keyboard.press("Tab");
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("v-expires");
      await page.keyboard.press("Enter");
    }

    /** Chromium logs a refused request (the 403 and 409 this test provokes) as a console error. */
    const unexpected = (errors: string[]) => errors.filter((e) => !/status of (403|409)/.test(e));

    it("alice approves first: the case waits for one more approval, and she cannot vote again", async () => {
      const { page, errors } = await signIn(alice!, "alice");
      // a case is open: `#/` chose the Reviews page
      await expect.poll(() => page.url()).toBe(`${server!.url}/#/reviews`);
      await page.locator("h1", { hasText: "Review queue" }).waitFor();
      const rows = page.locator("table.queue tbody tr");
      await expect.poll(() => rows.count()).toBe(1);
      expect(await rows.first().locator("a.open").innerText()).toBe(FILE_NAME);
      // the provider's pages load web fonts and a favicon that are not there: its errors are its own
      const back = errors.length;

      await rows.first().locator("a.open").click();
      await expect.poll(() => page.url()).toBe(`${server!.url}/#/reviews/${caseId}`);
      // the vote is the signed-in person's, not a name to type; the requester is the key
      const votingAs = page.getByLabel("Voting as");
      await expect.poll(() => votingAs.inputValue()).toBe("user:alice@example.com");
      expect(await votingAs.getAttribute("readonly")).not.toBeNull();
      expect(
        await page
          .locator("section[aria-labelledby=requests-title] tbody tr td")
          .last()
          .innerText(),
      ).toBe("ci");
      // the open case, signed in, with its vote form
      expect(await axeViolations(page)).toEqual([]);
      await approveByKeyboard(page, "vendor tool for the finance team, checked with its owner");

      // the only open case: back to the queue, which says what the vote came to
      await expect.poll(() => page.url()).toBe(`${server!.url}/#/reviews`);
      const outcome = page.locator(".outcome-notice");
      await expect.poll(() => outcome.innerText()).toContain("Your approval is recorded.");
      expect(await outcome.innerText()).toContain(
        "The case is still open, waiting for 1 more approval.",
      );
      expect(await rows.first().innerText()).toContain("1 more approval");

      // she may not vote again, otherwise: the server's refusal, in words, near the form
      await page.goto(`${server!.url}/#/reviews/${caseId}`);
      await approveByKeyboard(page, "approving a second time, to count twice");
      const refused = page.locator(".vote-panel [role=alert]");
      await expect
        .poll(() => refused.innerText())
        .toContain("You have already voted on this case, and a vote cannot be changed");
      expect(await refused.innerText()).toContain("`user:alice@example.com` voted `approve`");
      expect(page.url()).toBe(`${server!.url}/#/reviews/${caseId}`);
      expect(unexpected(errors.slice(back))).toEqual([]);
      await page.close();
    }, 120_000);

    it("carol, who may read the audit log only, is told in words she cannot review", async () => {
      const { page, errors } = await signIn(other!, "carol");
      // no `review` scope: `#/` is the Audit page, and the Reviews page says what she lacks
      await expect.poll(() => page.url()).toBe(`${server!.url}/#/audit`);
      await page.goto(`${server!.url}/#/reviews/${caseId}`);
      const alert = page.getByRole("alert");
      await expect
        .poll(() => alert.innerText())
        .toContain("The Reviews page needs the scope review (Review cases).");
      expect(await alert.innerText()).toContain("You (carol@example.com) have audit:read.");
      expect(await page.locator("form.vote").count()).toBe(0);
      expect(await axeViolations(page)).toEqual([]);
      await page.screenshot({ path: join(SCREENSHOTS, "console-review-flow-needs-scope.png") });
      const back = errors.length;
      // were she to reach the API anyway (with her session's CSRF token), it refuses the vote
      const answer = await page.evaluate(async (id) => {
        const session = await (await fetch("/v1/session")).json();
        const r = await fetch(`/v1/reviews/${id}/votes`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-csrf-token": session.csrfToken },
          body: JSON.stringify({ vote: "approve", justification: "I would like to help" }),
        });
        return { status: r.status, body: await r.json() };
      }, caseId);
      expect(answer.status).toBe(403);
      expect(answer.body.code).toBe("forbidden");
      expect(answer.body.detail).toBe(
        "you (`carol@example.com`) lack the `review` scope this needs",
      );
      expect(unexpected(errors.slice(back))).toEqual([]);
      await page.close();
      // a new browser session at the provider too: carol's sign-in there must not be bob's
      await other!.clearCookies();
    }, 120_000);

    it("bob approves second: the case resolves, approved, and the file is decided allow", async () => {
      const { page, errors } = await signIn(other!, "bob");
      await expect.poll(() => page.url()).toBe(`${server!.url}/#/reviews`);
      const back = errors.length;
      await page.locator("table.queue tbody tr a.open").first().click();
      await expect
        .poll(() => page.getByLabel("Voting as").inputValue())
        .toBe("user:bob@example.com");
      // alice's vote is on the case, under her sign-in
      const votes = page.locator("section[aria-labelledby=votes-title]");
      await expect.poll(() => votes.innerText()).toContain("user:alice@example.com");
      await approveByKeyboard(page, "ran it in a sandbox: no network beyond its update check");

      const outcome = page.locator(".outcome-notice");
      await expect.poll(() => outcome.innerText()).toContain("The case is resolved: approved");
      expect(await outcome.innerText()).toMatch(
        /with file exception [0-9a-f-]{36} by user:alice@example\.com, user:bob@example\.com, until .*The file was decided again: allow \(rule approved_by_people: /s,
      );

      // the case page, resolved: both votes, who asked, and no form any more
      await page.goto(`${server!.url}/#/reviews/${caseId}`);
      await expect.poll(() => page.locator("#case-title").innerText()).toBe(FILE_NAME);
      await expect
        .poll(() => page.locator(".vote-panel").innerText())
        .toContain("This case is resolved (approved): it takes no more votes.");
      // the heading's badge is the decision that opened the case: the page says what the file is now
      expect((await page.locator(".case-now").innerText()).replace(/\s+/g, " ")).toMatch(
        /^The file is now decided ✓ ALLOW by rule approved_by_people \(source review, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)\.$/,
      );
      const recorded = await votes.innerText();
      expect(recorded).toContain("user:alice@example.com");
      expect(recorded).toContain("user:bob@example.com");
      expect(await page.locator("form.vote").count()).toBe(0);
      expect(await axeViolations(page)).toEqual([]);
      await page.screenshot({
        path: join(SCREENSHOTS, "console-review-flow-case.png"),
        fullPage: true,
      });
      expect(unexpected(errors.slice(back))).toEqual([]);
      await page.close();
    }, 120_000);

    it("alice's Audit page shows the file's newest decision, allow from the review; the log names both voters", async () => {
      const { page, errors } = await open(alice!, `${server!.url}/#/audit`);
      await page.locator("h1", { hasText: "Audit log" }).waitFor();
      // searched by the file's SHA-256, as typed into the form
      await page.getByLabel("SHA-256", { exact: true }).fill(SHA256);
      await page.getByRole("button", { name: "Search" }).click();
      await expect.poll(() => page.url()).toContain(`sha256=${SHA256}`);
      const rows = page.locator("table.entries tbody tr");
      await expect.poll(() => rows.count()).toBe(2);
      const newest = rows.first();
      expect(await newest.locator(".badge").innerText()).toMatch(/ALLOW$/);
      expect(await newest.locator("td").nth(7).innerText()).toBe("review");
      expect(await rows.nth(1).locator(".badge").innerText()).toMatch(/REVIEW$/);
      expect(await rows.nth(1).locator("td").nth(7).innerText()).not.toBe("review");
      expect(await axeViolations(page)).toEqual([]);
      await page.screenshot({ path: join(SCREENSHOTS, "console-review-flow-audit.png") });
      expect(errors).toEqual([]);
      await page.close();

      // the log's vote entries, read with a key that may read it: each voter as signed in
      const exported = await withKey(auditor.secret, "/v1/audit/export?kind=review_vote");
      expect(exported.status).toBe(200);
      const lines = (await exported.text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Json);
      // two votes, none of them carol's refused attempt
      expect(lines.map((l) => [l.kind, l.caseId, l.voter, l.vote])).toEqual([
        ["review_vote", caseId, "user:alice@example.com", "approve"],
        ["review_vote", caseId, "user:bob@example.com", "approve"],
      ]);
      // the newest decision, as the API gives it: allow, decided by the review
      const decided = (await (
        await withKey(auditor.secret, `/v1/audit?sha256=${SHA256}`)
      ).json()) as Json;
      expect(decided.entries[0]).toMatchObject({ decision: "allow", source: "review" });
    }, 120_000);
  },
);
