/**
 * The console's Rules page in headless Chromium (see audit-browser.test.ts for the setup): a real
 * server on loopback, with a shadow rule set, decisions recorded over six days and a few decided
 * for real, an exception and a rule that expire soon, a rule file whose name and comment are
 * markup, and then a reload that fails. Screenshots go to out/screenshots/.
 */
// biome-ignore-all lint/performance/useDomNodeTextContent: these are Playwright's innerText(), the text as the analyst sees it
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningServer, resolveConfig, startServer } from "@clearance/server";
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
const { skip: SKIP, titleSuffix } = browserAvailability("rules-browser.test.ts");

const HOSTILE_FILE = "<img src=x onerror=alert(1)>.rules";
const HOSTILE_COMMENT = "# <script>alert(2)</script> must show as text";
const DAY = 24 * 3600_000;

/** Records consistent with the shipped rules: what matched, what decided, what the shadow said. */
const SHAPES = [
  {
    rule: "malware",
    decision: "deny",
    matched: ["any_malicious_detection", "malware", "low_trust", "many_detections"],
  },
  { rule: "trusted_publisher", decision: "allow", matched: ["trusted_publisher"] },
  { rule: "expired_signature", decision: "review", matched: ["expired_signature"] },
  { rule: "low_trust", decision: "deny", matched: ["low_trust"] },
] as const;

describe.skipIf(SKIP)(`the Rules page in headless Chromium${titleSuffix}`, () => {
  let dir = "";
  let rulesDir = "";
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;
  /** how many decisions of the last 7 days matched each rule, as recorded */
  const matched = new Map<string, number>();
  const count = (rule: string) => matched.set(rule, (matched.get(rule) ?? 0) + 1);
  let exceptionId = "";

  beforeAll(async () => {
    if (!existsSync(BUILT))
      throw new Error(`the console is not built (no ${BUILT}): run \`pnpm build\` first`);
    dir = mkdtempSync(join(tmpdir(), "clearance-rules-browser-"));
    rulesDir = join(dir, "rules");
    cpSync(join(REPO, "rules"), rulesDir, { recursive: true });
    const soon = new Date(Date.now() + 5 * DAY).toISOString().slice(0, 10);
    writeFileSync(
      join(rulesDir, HOSTILE_FILE),
      `${HOSTILE_COMMENT}\nrule legacy_installer expires ${soon} {\n  when fileName endsWith ".msi" and fileName matches /^setup-[0-9]+/i\n  review "legacy installers are reviewed until {fileName} is replaced"\n}\n`,
    );
    server = await startServer(
      resolveConfig({
        server: { port: 0, logLevel: "warn" },
        rules: { dir: rulesDir, watch: false },
        // the shipped rules as the shadow: they lack legacy_installer
        shadow: { rules: join(REPO, "rules") },
        audit: { sqlite: { path: join(dir, "audit.db"), synchronous: "normal" } },
        limits: { pressure: { maxEventLoopDelayMs: 0 } },
      }),
      { logger: false },
    );
    const now = Date.now();
    const records = Array.from({ length: 160 }, (_, i) => {
      const shape = SHAPES[i % SHAPES.length]!;
      for (const m of shape.matched) count(m);
      if (i % 5 === 0) count("fresh_files");
      return decisionRecord({
        time: new Date(now - 6 * DAY + i * Math.floor((6 * DAY) / 160)).toISOString(),
        decision: shape.decision,
        rule: shape.rule,
        matched: [...shape.matched],
        monitored: i % 5 === 0 ? ["fresh_files"] : [],
        shadow: {
          decision: i % 8 === 0 && shape.decision === "deny" ? "review" : shape.decision,
          rule: shape.rule,
          revision: "shadow",
        },
      });
    });
    await Promise.all(
      records.map((r) =>
        server!.services.audit.append(r, JSON.stringify({ result: { sha256: r.sha256 } })),
      ),
    );
    // and decisions made by the rules themselves
    const body = JSON.parse(readFileSync(join(REPO, "examples/requests/malware.json"), "utf8"));
    for (const name of ["a.exe", "b.exe", "c.exe"]) {
      body.result.fileName = name;
      const answer = await fetch(`${server.url}/v1/decisions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(answer.status).toBe(200);
      for (const m of (await answer.json()).matched as string[]) count(m);
    }
    const created = await fetch(`${server.url}/v1/exceptions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        status: "approved",
        scope: { vendor: "Example Tools <b>Ltd</b>", product: "Builder" },
        expires: new Date(now + 3 * DAY).toISOString(),
        justification: "pilot until the vendor signs its builds",
        by: "ana",
      }),
    });
    expect(created.status).toBe(201);
    exceptionId = (await created.json()).id;
    context = await launchBrowser(join(dir, "profile"));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function open(url: string): Promise<WatchedPage & { csp: () => Promise<string[]> }> {
    const watched = await watchedPage(context!);
    // CSP violations as the page sees them (an inline style or script refused), besides the
    // console errors Chromium also prints for them
    await watched.page.addInitScript(() => {
      const w = window as unknown as { cspViolations: string[] };
      w.cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        w.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    await watched.page.goto(url);
    return {
      ...watched,
      csp: () =>
        watched.page.evaluate(
          () => (window as unknown as { cspViolations: string[] }).cspViolations,
        ),
    };
  }

  it("lists the live rules with their hits, what never matched and what expires soon", async () => {
    const { page, errors, csp, requests } = await open(`${server!.url}/#/rules?range=7d`);
    const row = (rule: string) =>
      page.locator("table.rules-table tbody tr", { has: page.locator(`th a:text-is("${rule}")`) });
    await expect.poll(() => row("malware").locator("td.num").nth(1).innerText()).not.toBe("…");
    // Matched is the column after priority
    const cells = async (rule: string) => row(rule).locator("td.num").allInnerTexts();
    expect((await cells("malware"))[1]).toBe(String(matched.get("malware")));
    expect((await cells("low_trust"))[1]).toBe(String(matched.get("low_trust")));
    // sorted by hits: the most matched first
    const first = await page.locator("table.rules-table tbody th a").first().innerText();
    const most = [...matched].sort((a, b) => b[1] - a[1])[0]![0];
    expect(first).toBe(most);
    // summary: both revisions; the rule missing from the shadow says so
    await expect
      .poll(() => page.locator(".rules-summary").innerText())
      .toContain("Shadow rule set");
    expect(await row("legacy_installer").innerText()).toContain("not in shadow");
    expect(await row("legacy_installer").locator("td.flags").innerText()).toContain("expires");
    // never matched: a rule no record names
    const never = page.locator("section[aria-labelledby=never-title]");
    await expect.poll(() => never.innerText()).toContain("sandbox_malware");
    expect(await never.innerText()).not.toContain("malware,");
    // expiring soon: the rule and the exception, the exception linked to its page
    const expiring = page.locator("section[aria-labelledby=expiring-title]");
    await expect.poll(() => expiring.innerText()).toContain("legacy_installer");
    await expect
      .poll(() => expiring.locator(`a[href="#/exceptions/${exceptionId}"]`).count())
      .toBe(1);
    expect(await expiring.innerText()).toContain("vendor Example Tools <b>Ltd</b> / Builder");
    // a file named as markup is a file name
    const files = page.locator("section[aria-labelledby=files-title]");
    await expect.poll(() => files.innerText()).toContain(HOSTILE_FILE);
    expect(await page.locator("img").count()).toBe(0);
    // the range is the address's: 7 days asked with 6-hour buckets
    expect(requests.some((r) => /^GET \/v1\/ruleset\/hits\?from=.*&bucket=6h$/.test(r))).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, "console-rules.png"), fullPage: true });
    // a laptop's width: the table scrolls in its own box, the page does not
    await page.setViewportSize({ width: 1024, height: 800 });
    await page.screenshot({ path: join(SCREENSHOTS, "console-rules-narrow.png"), fullPage: false });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      1024,
    );
    await page.setViewportSize({ width: 1440, height: 900 });
    expect(await axeViolations(page)).toEqual([]);
    expect(await csp()).toEqual([]);
    expect(errors).toEqual([]);
    // the chart's library is not in the list's scripts
    expect(requests.filter((r) => /assets\/chart-/.test(r))).toEqual([]);
    await page.close();
  }, 60_000);

  it("draws one rule's hits with uPlot, with the same numbers in a table", async () => {
    const { page, errors, csp, requests } = await open(`${server!.url}/#/rules/malware?range=7d`);
    const canvas = page.locator(".hits-chart canvas").first();
    await canvas.waitFor();
    const box = await canvas.boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(box!.height).toBeGreaterThan(100);
    // the legend names the series in words
    const legend = await page.locator(".hits-chart .u-legend").innerText();
    for (const word of ["Denied by it", "Matched", "Shadow disagreed"])
      expect(legend).toContain(word);
    // a deny rule never allows: no line that is always zero
    expect(legend).not.toContain("Allowed by it");
    // a rule's page reads what it shows: no exceptions
    expect(requests.filter((r) => r.startsWith("GET /v1/exceptions"))).toEqual([]);
    // the chart came in its own script and stylesheet
    expect(requests.some((r) => /assets\/chart-[\w-]+\.js$/.test(r))).toBe(true);
    expect(requests.some((r) => /assets\/chart-[\w-]+\.css$/.test(r))).toBe(true);
    // the table alternative: the matched column adds up to the rule's count
    await page.locator(".hits-table summary").click();
    const table = page.locator(".hits-table table");
    const headers = await table.locator("thead th").allInnerTexts();
    const col = headers.indexOf("Matched");
    expect(col).toBeGreaterThan(0);
    const values = await table.locator(`tbody tr td:nth-child(${col + 1})`).allInnerTexts();
    expect(values.length).toBeGreaterThanOrEqual(28);
    expect(values.reduce((n, v) => n + Number(v), 0)).toBe(matched.get("malware"));
    expect(await page.locator(`a[href="#/audit?rule=malware"]`).count()).toBe(1);
    await page.locator(".hits-table summary").click();
    await page.screenshot({ path: join(SCREENSHOTS, "console-rules-rule.png"), fullPage: true });
    expect(await axeViolations(page)).toEqual([]);
    expect(await csp()).toEqual([]);
    expect(errors).toEqual([]);
    // Esc goes back to the list, keeping the range
    await page.keyboard.press("Escape");
    await expect.poll(() => page.url()).toMatch(/#\/rules\?range=7d$/);
    await page.close();
  }, 60_000);

  it("shows a rule file numbered and highlighted, at the rule's line", async () => {
    const { page, errors, csp } = await open(`${server!.url}/#/rules?range=7d`);
    const link = page
      .locator("table.rules-table tbody tr", {
        has: page.locator('th a:text-is("legacy_installer")'),
      })
      .locator("td a");
    await link.click();
    const target = page.locator("pre.source .line.target");
    await target.waitFor();
    expect(await target.getAttribute("id")).toBe("L2");
    expect(await target.locator(".tok-keyword").allInnerTexts()).toEqual(["rule", "expires"]);
    const source = page.locator("pre.source");
    expect(await source.locator(".tok-comment").first().innerText()).toBe(HOSTILE_COMMENT);
    expect(await source.locator(".tok-regex").innerText()).toBe("/^setup-[0-9]+/i");
    expect(await source.locator(".tok-string").first().innerText()).toBe('".msi"');
    expect(await page.locator("script:not([src])").count()).toBe(0);
    expect(await page.locator("h1").innerText()).toBe(HOSTILE_FILE);
    await page.screenshot({ path: join(SCREENSHOTS, "console-rules-file.png"), fullPage: false });
    expect(await axeViolations(page)).toEqual([]);
    expect(await csp()).toEqual([]);
    expect(errors).toEqual([]);
    await page.keyboard.press("Escape");
    await expect.poll(() => page.url()).toMatch(/#\/rules\?range=7d$/);
    await page.close();
  }, 60_000);

  it("shows a failed reload with its code frame, the previous rules still served", async () => {
    writeFileSync(
      join(rulesDir, "broken.rules"),
      'rule broken_rule {\n  when detections.malicous >= 3\n  deny "typo in a field"\n}\n',
    );
    const reload = await fetch(`${server!.url}/v1/ruleset/reload`, { method: "POST" });
    expect(reload.status).toBe(422);
    const { page, errors, csp } = await open(`${server!.url}/#/rules`);
    const panel = page.locator(".reload-error");
    await panel.waitFor();
    const text = await panel.innerText();
    expect(text).toContain("Last reload failed");
    expect(text).toMatch(/ERROR\s+unknown_field/);
    const frame = await panel.locator("pre.code-frame").first().innerText();
    expect(frame).toContain("2 |   when detections.malicous >= 3");
    expect(frame).toMatch(/\|\s+\^+/);
    // the rules still served are listed, without the broken one
    await expect.poll(() => page.locator("table.rules-table tbody tr").count()).toBeGreaterThan(10);
    expect(await page.locator("table.rules-table").innerText()).not.toContain("broken_rule");
    await page.screenshot({ path: join(SCREENSHOTS, "console-rules-error.png"), fullPage: false });
    expect(await axeViolations(page)).toEqual([]);
    expect(await csp()).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
