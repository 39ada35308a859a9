/**
 * The console's Playground in a real headless browser (Debian's Chromium, playwright-core) against a
 * real server with the repository's rules/ and decisions recorded by POSTing real requests. Skipped
 * when /usr/bin/chromium is absent, unless CLEARANCE_TEST_BROWSER=1 (CI). Needs `pnpm build`.
 * Screenshots: out/screenshots/console-playground*.png.
 */
// biome-ignore-all lint/performance/useDomNodeTextContent: these are Playwright's innerText(), the text as the analyst sees it
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningServer, resolveConfig, startServer } from "@clearance/server";
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
const { skip: SKIP, titleSuffix } = browserAvailability("playground-browser.test.ts");

const HOSTILE = "<script>alert(1)</script>.exe";
const read = (path: string) => JSON.parse(readFileSync(join(REPO, path), "utf8"));

describe.skipIf(SKIP)(`the Playground in headless Chromium${titleSuffix}`, () => {
  let dir = "";
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;
  let hostileSha = "";

  beforeAll(async () => {
    if (!existsSync(BUILT))
      throw new Error(`the console is not built (no ${BUILT}): run \`pnpm build\` first`);
    dir = mkdtempSync(join(tmpdir(), "clearance-playground-browser-"));
    server = await startServer(
      resolveConfig({
        server: { port: 0, logLevel: "warn" },
        rules: { dir: join(REPO, "rules"), watch: false },
        audit: { sqlite: { path: join(dir, "audit.db"), synchronous: "normal" } },
        limits: { pressure: { maxEventLoopDelayMs: 0 } },
      }),
      { logger: false },
    );
    const decide = async (body: unknown) => {
      const res = await fetch(`${server!.url}/v1/decisions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      return (await res.json()) as { decision: string; rule: string };
    };
    // real requests: the examples, three VirusTotal reports, and a file named as markup whose
    // signature is invalid (denied by `invalid_signature` alone, as the revoked report is)
    for (const name of ["malware", "signed-with-context"])
      await decide(read(`examples/requests/${name}.json`));
    for (const name of ["clean-signed", "malicious-unsigned", "signed-revoked"])
      await decide({ result: read(`examples/virustotal/${name}.json`) });
    const hostile = read("examples/results/signed-microsoft.json");
    hostile.fileName = HOSTILE;
    hostile.sha256 = "ab".repeat(32);
    hostile.signature.status = "invalid";
    hostileSha = hostile.sha256;
    expect(await decide({ result: hostile })).toMatchObject({
      decision: "deny",
      rule: "invalid_signature",
    });
    context = await launchBrowser(join(dir, "profile"));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A watched page that also records every content-security-policy violation. */
  const open = (url: string): Promise<WatchedPage> => watchedPage(context!, url);

  it("opens a denied entry, edits a rule with the keyboard, sees the decision change, runs it over history", async () => {
    const { page, errors, requests } = await open(`${server!.url}/#/audit?sha256=${hostileSha}`);
    // the Audit page: the denied entry, opened with the keyboard
    const rows = page.locator("table.entries tbody tr");
    await expect.poll(() => rows.count()).toBe(1);
    await rows.first().locator("a.open").focus();
    await page.keyboard.press("Enter");
    await page.locator("#entry-title").waitFor();
    await page.getByRole("link", { name: "Open in playground" }).click();
    await expect.poll(() => page.url()).toMatch(/#\/playground\?entry=[0-9a-f-]{36}$/);

    // the live rules in the editor, decided on the entry's stored input: the same as recorded
    const compare = page.locator(".pg-compare");
    await expect.poll(() => compare.innerText()).toMatch(/live\s+✕\s*DENY\s+invalid_signature/);
    await expect
      .poll(() => page.locator(".pg-status").first().innerText())
      .toBe("The decision is the same.");
    // the file name is text, never markup
    expect(await page.locator(".pg-input .pg-name").innerText()).toBe(HOSTILE);
    expect(await page.locator("section.playground script").count()).toBe(0);
    expect(await page.locator(".pg-result dd").first().innerText()).toBe(HOSTILE);

    // the editor is styled under the CSP: its generated styles are an adopted style sheet
    await page.getByLabel("Rule file", { exact: true }).selectOption("threats.rules");
    const line = page.locator(".cm-line", { hasText: 'deny "its signature is invalid"' });
    await line.waitFor();
    const styled = await page.evaluate(() => {
      const root = document.querySelector(".pg-editor")!.shadowRoot!;
      const gutter = root.querySelector(".cm-gutters")!;
      const keyword = [...root.querySelectorAll(".cm-line span")].find(
        (s) => s.textContent === "rule",
      )!;
      return {
        sheets: root.adoptedStyleSheets.length,
        styleTags:
          document.querySelectorAll("style").length + root.querySelectorAll("style").length,
        gutter: getComputedStyle(gutter).backgroundColor,
        keyword: getComputedStyle(keyword).color,
      };
    });
    expect(styled.styleTags).toBe(0);
    expect(styled.sheets).toBeGreaterThan(0);
    expect(styled.gutter).toBe("rgb(243, 244, 246)");
    expect(styled.keyword).toBe("rgb(91, 42, 134)");

    // a typo: the server's checker marks it in the text and lists it with its code
    await line.click();
    await page.keyboard.press("End");
    await page.keyboard.type(" +");
    const diagnostics = page.locator(".pg-diagnostics li");
    await expect.poll(() => diagnostics.count()).toBeGreaterThan(0);
    expect(await diagnostics.first().innerText()).toMatch(/ERROR\s+threats\.rules:\d+:\d+\s+\[/);
    await expect.poll(() => page.locator(".cm-lintRange-error").count()).toBeGreaterThan(0);
    await expect
      .poll(() => page.locator(".pg-status").first().innerText())
      .toBe("The candidate does not compile: fix the errors listed.");
    await page.screenshot({
      path: join(SCREENSHOTS, "console-playground-errors.png"),
      fullPage: false,
    });
    expect(await axeViolations(page)).toEqual([]);
    // undone with the keyboard, then the action word replaced: `deny` becomes `review`
    await page.keyboard.press("Control+z");
    await expect.poll(() => diagnostics.count()).toBe(0);
    await page.keyboard.press("Home");
    await page.keyboard.press("Shift+Control+ArrowRight");
    await page.keyboard.type("review");
    await expect
      .poll(() => page.locator(".cm-line", { hasText: '"its signature is invalid"' }).innerText())
      .toBe('  review "its signature is invalid"');

    await expect
      .poll(() => page.locator(".pg-status").first().innerText())
      .toBe("The decision changes.");
    expect(await compare.innerText()).toMatch(/candidate\s+\?\s*REVIEW/);
    expect(await compare.innerText()).toContain("CHANGED");
    // the explanation of the candidate's decision: invalid_signature matched, now a review
    expect(
      await page.locator(".pg-result .rule-node.outcome-matched .rule-name").allInnerTexts(),
    ).toContain("invalid_signature");
    await page.screenshot({ path: join(SCREENSHOTS, "console-playground.png"), fullPage: true });
    expect(await axeViolations(page)).toEqual([]);

    // over history: every decision of the last 24 hours decided again
    await page.getByLabel("Period").selectOption("24h");
    await page.getByRole("button", { name: "Run over history" }).click();
    const matrix = page.locator("table.pg-matrix");
    await matrix.waitFor();
    const cell = (from: string, to: string) =>
      matrix.locator(`td[data-from="${from}"][data-to="${to}"]`);
    // the revoked report and the markup-named file: deny -> review; the rest as they were
    const expected: Record<string, number> = {
      "deny review": 2,
      "deny deny": 2,
      "allow allow": 1,
      "review review": 1,
    };
    for (const from of ["allow", "deny", "review"])
      for (const to of ["allow", "deny", "review"])
        expect(await cell(from, to).locator(".count").innerText(), `${from} -> ${to}`).toBe(
          String(expected[`${from} ${to}`] ?? 0),
        );
    // the changed cell says so in words, not only by colour
    expect(await cell("deny", "review").innerText()).toContain("▲ looser");
    expect(await page.locator(".pg-run p").first().innerText()).toMatch(/6 decisions.*2 changes/);
    const changed = page.locator("table.pg-changes tbody tr");
    await expect.poll(() => changed.count()).toBe(2);
    const names = await changed.locator("td.name").allInnerTexts();
    expect(names).toContain(HOSTILE);
    expect(await page.locator("table.pg-changes script").count()).toBe(0);
    const link = await changed
      .filter({ hasText: HOSTILE })
      .getByRole("link", { name: "open entry" })
      .getAttribute("href");
    expect(link).toMatch(/^#\/audit\/[0-9a-f-]{36}$/);
    // a full-page picture from the top: the rules panel sticks to the viewport when scrolled
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({
      path: join(SCREENSHOTS, "console-playground-history.png"),
      fullPage: true,
    });
    expect(await axeViolations(page)).toEqual([]);

    // the live rules did not change: the server still denies the file
    const live = await page.evaluate(async () => {
      const r = await fetch("/v1/ruleset");
      return ((await r.json()) as { revision: string }).revision;
    });
    expect(live).toBe(server!.services.rules.ruleset.revision);
    expect(requests.filter((r) => r.startsWith("POST /v1/ruleset"))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("decides pasted results (not JSON is said so), and never shows a stale answer over a newer one", async () => {
    const { page, errors } = await open(`${server!.url}/#/playground`);
    await expect
      .poll(() => page.locator(".pg-result").innerText())
      .toContain("Open an entry of the audit log");
    await page.getByText("Paste a result (canonical or VirusTotal)").click();
    const box = page.getByLabel("Result JSON");
    await box.fill("{ not json");
    await page.getByRole("button", { name: "Decide this result" }).click();
    expect(await page.locator("#pg-paste-problem").innerText()).toMatch(/^this is not JSON/);
    await box.fill(readFileSync(join(REPO, "examples/virustotal/malicious-unsigned.json"), "utf8"));
    await page.getByRole("button", { name: "Decide this result" }).click();
    await expect
      .poll(() => page.locator(".pg-compare").innerText())
      .toMatch(/live\s+✕\s*DENY\s+malware/);
    expect(await page.locator(".pg-compare").innerText()).toMatch(/candidate\s+✕\s*DENY\s+malware/);
    expect(await axeViolations(page)).toEqual([]);

    // a stale answer never overwrites a newer one: the next answer is held back by the network
    // until after the one asked for later has been shown
    let held: Promise<void> | undefined;
    await page.route("**/v1/playground/decide", async (route) => {
      if (held !== undefined) return route.continue();
      held = (async () => {
        const response = await route.fetch();
        await new Promise((r) => setTimeout(r, 1_500));
        await route.fulfill({ response });
      })();
      await held;
    });
    const first = page.waitForRequest("**/v1/playground/decide");
    await box.fill(readFileSync(join(REPO, "examples/virustotal/signed-revoked.json"), "utf8"));
    await page.getByRole("button", { name: "Decide this result" }).click();
    await first;
    await box.fill(readFileSync(join(REPO, "examples/results/signed-microsoft.json"), "utf8"));
    await page.getByRole("button", { name: "Decide this result" }).click();
    await expect
      .poll(() => page.locator(".pg-compare").innerText())
      .toMatch(/live\s+✓\s*ALLOW\s+trusted_publisher/);
    await held;
    await new Promise((r) => setTimeout(r, 200));
    expect(await page.locator(".pg-compare").innerText()).toMatch(/ALLOW/);
    expect(await page.locator(".pg-compare").innerText()).not.toMatch(/invalid_signature/);
    await page.unroute("**/v1/playground/decide");

    // a custom period: checked before it is sent, then run with the live rules' own text
    await page.getByLabel("Period").selectOption("custom");
    await page.getByLabel("From (UTC)").fill("2026-12-02T10:00");
    await page.getByLabel("To (UTC)").fill("2026-12-01T10:00");
    await page.getByRole("button", { name: "Run over history" }).click();
    expect(await page.locator("#pg-period-problem").innerText()).toBe(
      "the end of the period must be after its start",
    );
    expect(await page.getByLabel("From (UTC)").getAttribute("aria-invalid")).toBe("true");
    const hour = (ms: number) => new Date(ms).toISOString().slice(0, 16);
    await page.getByLabel("From (UTC)").fill(hour(Date.now() - 3_600_000));
    await page.getByLabel("To (UTC)").fill(hour(Date.now() + 3_600_000));
    await page.getByRole("button", { name: "Run over history" }).click();
    await expect
      .poll(() => page.locator(".pg-run p").first().innerText())
      .toMatch(/^6 decisions recorded from .*: 0 changes\.$/);
    expect(await page.locator("#pg-period-problem").count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);

    // completion (@clearance/codemirror-lang): a new rule at the end of the file; `trus` offers
    // the input's field, with its type, and Enter takes it
    const editorText = page.getByLabel("Text of governance.rules");
    await editorText.click();
    await page.keyboard.press("Control+End");
    await page.keyboard.press("Enter");
    await page.keyboard.type("rule probe { when trus");
    const options = page.locator(".cm-tooltip-autocomplete li");
    await expect
      .poll(() => options.allInnerTexts(), { timeout: 10_000 })
      .toContainEqual(expect.stringMatching(/^trustScore\s*number/));
    await page.screenshot({ path: join(SCREENSHOTS, "console-playground-completion.png") });
    expect(await axeViolations(page)).toEqual([]);
    await page.keyboard.press("Enter");
    // a number compared with a string: the server's checker marks it where it is
    await page.keyboard.type(' < "low" deny "low trust');
    const probe = page.locator(".cm-line", { hasText: "rule probe" });
    await expect
      .poll(() => probe.innerText())
      .toBe('rule probe { when trustScore < "low" deny "low trust"}');
    const listed = page.locator(".pg-diagnostics li", { hasText: "governance.rules" });
    // the checker is asked 300 ms after the last key, and answers through the server
    await expect.poll(() => listed.count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect
      .poll(() => probe.locator(".cm-lintRange-error").count(), { timeout: 10_000 })
      .toBeGreaterThan(0);
    expect(await page.locator(".pg-status").first().innerText()).toBe(
      "The candidate does not compile: fix the errors listed.",
    );
    // its message, code and help on hover, as `clearance check` words them; hovered again until
    // it shows, as a slow machine may move the mark (a newer answer) under a resting pointer
    const tooltip = page.locator(".cm-tooltip-lint");
    await expect
      .poll(
        async () => {
          await page.mouse.move(0, 0);
          await probe.locator(".cm-lintRange-error").first().hover();
          await tooltip.waitFor({ timeout: 1_000 }).catch(() => undefined);
          return tooltip.count();
        },
        { timeout: 15_000 },
      )
      .toBeGreaterThan(0);
    expect(await tooltip.innerText()).toContain(
      `[${(await listed.first().innerText()).match(/\[(\w+)\]/)?.[1]}]`,
    );
    await page.screenshot({ path: join(SCREENSHOTS, "console-playground-diagnostic.png") });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
