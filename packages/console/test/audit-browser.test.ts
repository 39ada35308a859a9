/**
 * The console's Audit page in a real headless browser: Debian's Chromium driven by playwright-core,
 * against a real server on loopback with a few hundred recorded decisions. Skipped when
 * /usr/bin/chromium is absent, unless CLEARANCE_TEST_BROWSER=1 (CI), which makes it mandatory.
 * Needs the console built (`pnpm build`). Screenshots go to out/screenshots/ (git-ignored).
 */
// biome-ignore-all lint/performance/useDomNodeTextContent: these are Playwright's innerText(), the text as the analyst sees it, not the DOM property the rule is about
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiKey, type RunningServer, resolveConfig, startServer } from "@clearance/server";
import { decisionRecord } from "@clearance/server/testing";
import type { BrowserContext } from "playwright-core";
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

const BUILT = join(REPO, "packages/server/console/index.html");
const { skip: SKIP, titleSuffix } = browserAvailability("audit-browser.test.ts");

const HOSTILE = "<script>alert(1)</script>.exe";
const RECORDED = 300;
/**
 * The recorded decisions, each as the shipped rule it names would make it (rules/threats.rules,
 * rules/publishers.rules; `null`, the default): the screenshots are read by people, who would
 * rightly distrust a `malware` rule that allowed a file.
 */
const RECORDED_AS = [
  {
    rule: "malware",
    decision: "deny",
    reason: (i: number) => `flagged malicious by ${3 + (i % 9)} engines`,
  },
  {
    rule: "low_trust",
    decision: "deny",
    reason: (i: number) =>
      `too little trust (trust score ${i % 30}, VirusTotal reputation -${i % 40})`,
  },
  { rule: "trusted_publisher", decision: "allow", reason: () => "signed by Microsoft Corporation" },
  {
    rule: "expired_signature",
    decision: "review",
    reason: () => "signature expired (signed by Simon Tatham)",
  },
  { rule: null, decision: "review", reason: () => "no rule matched" },
] as const;

describe.skipIf(SKIP)(`the Audit page in headless Chromium${titleSuffix}`, () => {
  let dir = "";
  let server: RunningServer | undefined;
  let locked: RunningServer | undefined;
  let context: BrowserContext | undefined;
  let hostileSha = "";
  const readerKey = createApiKey();

  beforeAll(async () => {
    if (!existsSync(BUILT))
      throw new Error(`the console is not built (no ${BUILT}): run \`pnpm build\` first`);
    dir = mkdtempSync(join(tmpdir(), "clearance-console-browser-"));
    const config = (name: string, keys: { id: string; scopes: string[]; sha256: string }[]) =>
      resolveConfig({
        server: { port: 0, logLevel: "warn" },
        rules: { dir: join(REPO, "rules"), watch: false },
        audit: { sqlite: { path: join(dir, `${name}.db`), synchronous: "normal" } },
        limits: { pressure: { maxEventLoopDelayMs: 0 } },
        auth: { keys },
      });
    server = await startServer(config("open", []), { logger: false });
    // A few hundred decisions over the last three days, newest last...
    const now = Date.now();
    await Promise.all(
      Array.from({ length: RECORDED }, (_, i) =>
        server!.services.audit.append(
          decisionRecord({
            time: new Date(now - (RECORDED - i) * 15 * 60_000).toISOString(),
            decision: RECORDED_AS[i % RECORDED_AS.length]!.decision,
            rule: RECORDED_AS[i % RECORDED_AS.length]!.rule,
            fileName: i % 17 === 0 ? null : `setup-${String(i).padStart(3, "0")}.exe`,
            requester: i % 2 ? "ci" : null,
            source: i % 4 ? "api" : "webhook",
            reason: RECORDED_AS[i % RECORDED_AS.length]!.reason(i),
          }),
          JSON.stringify({ result: { sha256: "0".repeat(64), fileName: `setup-${i}.exe` } }),
        ),
      ),
    );
    // ...and real ones, decided by the rules, one of them a file named as markup
    const body = JSON.parse(readFileSync(join(REPO, "examples/requests/malware.json"), "utf8"));
    body.result.fileName = HOSTILE;
    body.explain = true;
    hostileSha = body.result.sha256;
    const answer = await fetch(`${server.url}/v1/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(answer.status).toBe(200);

    // a server with API keys: the console asks to sign in
    locked = await startServer(
      config("locked", [{ id: "reader", scopes: ["audit:read"], sha256: readerKey.sha256 }]),
      { logger: false },
    );

    context = await launchBrowser(join(dir, "profile"));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await locked?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = (url: string): Promise<WatchedPage> => watchedPage(context!, url);

  it("lists the newest decisions, pages with the API's cursor, and passes axe", async () => {
    const { page, errors, requests } = await open(`${server!.url}/`);
    const rows = page.locator("table.entries tbody tr");
    await expect.poll(() => rows.count()).toBe(50);
    const firstOfPage1 = await rows.first().locator("td.name").innerText();
    expect(firstOfPage1).toBe(HOSTILE);
    // every decision shows its word, not only a colour
    expect(await page.locator("table.entries .badge").first().innerText()).toMatch(/DENY$/);
    await page.screenshot({ path: join(SCREENSHOTS, "console-audit-list.png"), fullPage: false });

    await page.getByRole("button", { name: "Older →" }).first().click();
    // the page's number shows its count only once its rows have arrived
    await expect
      .poll(() => page.locator(".pager span").first().innerText())
      .toBe("Page 2 · 50 entries");
    const firstOfPage2 = await rows.first().locator("td.name").innerText();
    expect(firstOfPage2).not.toBe(firstOfPage1);
    // an entry opened from page 2 goes back to page 2, its row still selected
    await rows.nth(2).locator("a.open").focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.url()).toMatch(/#\/audit\/[0-9a-f-]{36}$/);
    await page.locator("#entry-title").waitFor();
    await page.keyboard.press("Escape");
    await expect
      .poll(() => page.locator(".pager span").first().innerText())
      .toBe("Page 2 · 50 entries");
    await expect.poll(() => rows.first().locator("td.name").innerText()).toBe(firstOfPage2);
    await expect.poll(() => rows.nth(2).getAttribute("aria-current")).toBe("true");
    await page.getByRole("button", { name: "← Newer" }).first().click();
    await expect.poll(() => rows.first().locator("td.name").innerText()).toBe(firstOfPage1);
    // keyset paging: the second page was asked for with the first page's cursor, never an offset
    const searches = requests.filter((r) => r.startsWith("GET /v1/audit?"));
    expect(searches[0]).toBe("GET /v1/audit?limit=50");
    expect(searches[1]).toMatch(/^GET \/v1\/audit\?limit=50&cursor=[0-9a-f-]{36}$/);
    expect(searches.join(" ")).not.toMatch(/offset|page=/);

    expect(await axeViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("finds a file by SHA-256 with the keyboard, shows its markup name as text, and opens it", async () => {
    const { page, errors } = await open(`${server!.url}/#/audit`);
    await page.locator("table.entries tbody tr").first().waitFor();
    await page.keyboard.press("/");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("f-sha256");
    await page.keyboard.type(hostileSha.toUpperCase());
    await page.keyboard.press("Enter");
    await expect.poll(() => page.url()).toContain(`#/audit?sha256=${hostileSha}`);
    const rows = page.locator("table.entries tbody tr");
    await expect.poll(() => rows.count()).toBe(1);
    const name = rows.first().locator("td.name");
    expect(await name.innerText()).toBe(HOSTILE);
    expect(await page.locator("table.entries script").count()).toBe(0);

    // the export link carries the same filter, and answers that file's line
    const href = await page
      .getByRole("link", { name: "Export this filter (NDJSON)" })
      .getAttribute("href");
    expect(href).toBe(`/v1/audit/export?sha256=${hostileSha}`);
    const exported = await page.evaluate(async (h) => {
      const r = await fetch(h!);
      return { type: r.headers.get("content-type"), text: await r.text() };
    }, href);
    expect(exported.type).toBe("application/x-ndjson; charset=utf-8");
    const lines = exported.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.sha256, l.fileName, l.decision])).toEqual([
      [hostileSha, HOSTILE, "deny"],
    ]);

    // j/k move the selection; Enter opens it
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("j");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.url()).toMatch(/#\/audit\/[0-9a-f-]{36}$/);
    const title = page.locator("#entry-title");
    await expect.poll(() => title.innerText()).toBe(HOSTILE);
    expect(await page.locator("article.entry script").count()).toBe(0);
    expect(await page.locator(".facts").first().innerText()).toContain("malware");
    // the explanation tree, the input snapshot as JSON text, the chain and its verification
    await expect.poll(() => page.locator(".tag-deciding").count()).toBe(1);
    expect(await page.locator(".rule-node.outcome-matched .rule-name").allInnerTexts()).toContain(
      "malware",
    );
    const snapshot = JSON.parse(await page.locator("pre.json").innerText());
    expect(snapshot.result.fileName).toBe(HOSTILE);
    const chain = await page.locator("#chain-title + dl").innerText();
    expect(chain).toMatch(/Seq\s+301/);
    await expect.poll(() => page.locator(".chain-state").innerText()).toContain("Chains verified");
    expect(await page.locator(".chain-state").innerText()).toContain(
      "This entry (seq 301) is within the verified part",
    );
    await page.screenshot({ path: join(SCREENSHOTS, "console-audit-entry.png"), fullPage: true });
    expect(await axeViolations(page)).toEqual([]);

    // Escape goes back to the list it came from
    await page.keyboard.press("Escape");
    await expect.poll(() => page.url()).toContain(`#/audit?sha256=${hostileSha}`);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("filters by decision, file name and time from the form, and says what it refuses", async () => {
    const { page, errors, requests } = await open(`${server!.url}/#/audit`);
    await page.locator("table.entries tbody tr").first().waitFor();
    // the rule field suggests the live rules' names
    await expect
      .poll(() =>
        page
          .locator("#rule-names option")
          .evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value)),
      )
      .toEqual(expect.arrayContaining(["expired_signature", "malware", "trusted_publisher"]));
    expect(await page.getByLabel("Rule", { exact: true }).getAttribute("list")).toBe("rule-names");
    await page.getByLabel("Decision", { exact: true }).selectOption("review");
    await page.getByLabel("File name contains").fill("SETUP-29");
    await page.getByRole("button", { name: "Search" }).click();
    const rows = page.locator("table.entries tbody tr");
    // setup-290 ... setup-299, of which expired_signature and the default review: 293, 294, 298, 299
    await expect.poll(() => rows.count()).toBe(4);
    expect(await rows.locator("td.name").allInnerTexts()).toEqual([
      "setup-299.exe",
      "setup-298.exe",
      "setup-294.exe",
      "setup-293.exe",
    ]);
    expect(requests.at(-1)).toBe("GET /v1/audit?fileName=SETUP-29&decision=review&limit=50");

    await page.getByLabel("SHA-256").fill("abc");
    await page.getByLabel("From (UTC)").fill("2026-12-02T10:00");
    await page.getByLabel("To (UTC, exclusive)").fill("2026-12-01T10:00");
    await page.getByRole("button", { name: "Search" }).click();
    expect(await page.locator("#f-sha256-problem").innerText()).toBe(
      "a SHA-256 is 64 hex digits; `abc` has 3 characters",
    );
    expect(await page.locator("#f-to-problem").innerText()).toBe("`to` must be later than `from`");
    expect(await page.getByLabel("SHA-256").getAttribute("aria-invalid")).toBe("true");
    expect(await axeViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("on a server with API keys, asks to sign in before the Audit page, and shows it after", async () => {
    const { page, errors } = await open(`${locked!.url}/`);
    await page.locator("#signin-title").waitFor();
    expect(page.url()).toBe(`${locked!.url}/#/sign-in?return=%2F`);
    await page.getByLabel("API key").fill(readerKey.secret);
    await page.getByRole("button", { name: "Sign in with the key" }).click();
    await expect.poll(() => page.url()).toBe(`${locked!.url}/#/audit`);
    expect(await page.locator("header .account-name").innerText()).toBe("reader");
    await page.locator("table.entries, .notice").first().waitFor();
    // no request went to the API without the session: no 401 on the way
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
