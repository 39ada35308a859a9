/**
 * The HTML report in a real headless browser: Debian's Chromium driven by playwright-core (which
 * ships no browser of its own). Skipped when /usr/bin/chromium is absent, unless
 * CLEARANCE_TEST_BROWSER=1, which makes it mandatory (CI: run scripts/install-chromium.sh first).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  browserAvailability,
  launchBrowser,
  SCREENSHOTS,
  type WatchedPage,
  watchedPage,
} from "../../../test/support/browser.js";
import { renderHtml } from "../src/render-html.js";
import type { DryRunReport } from "../src/report.js";
import {
  HOSTILE_NAME,
  hostile,
  manyChanges,
  noBaseline,
  withBaseline,
} from "./fixtures/reports.js";

const { skip: SKIP, titleSuffix } = browserAvailability("html-browser.test.ts");

interface Loaded extends WatchedPage {
  url: string;
}

describe.skipIf(SKIP)(`HTML report in headless Chromium${titleSuffix}`, () => {
  let dir = "";
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "clearance-html-"));
    context = await launchBrowser(join(dir, "profile"), { width: 1280, height: 720 });
  }, 70_000);

  afterAll(async () => {
    await context?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function load(report: DryRunReport, name: string): Promise<Loaded> {
    const file = join(dir, `${name}.html`);
    writeFileSync(file, renderHtml(report));
    const loaded: Loaded = { ...(await watchedPage(context!)), url: pathToFileURL(file).href };
    const { page } = loaded;
    await page.goto(loaded.url, { waitUntil: "load" });
    return loaded;
  }

  function clean(l: Loaded): void {
    expect(l.errors).toEqual([]);
    expect(l.failed).toEqual([]);
    expect(l.requests).toEqual([l.url]);
  }

  /** Rendered sizes of the matching SVG elements. */
  function sizes(page: Page, testid: string): Promise<{ w: number; h: number }[]> {
    return page.$$eval(`[data-testid="${testid}"]`, (els) =>
      els.map((e) => {
        const r = e.getBoundingClientRect();
        return { w: r.width, h: r.height };
      }),
    );
  }

  const rows = (page: Page) => page.locator('[data-testid="change-row"]');

  it("loads with no console errors and no failed requests, and draws the charts", async () => {
    const l = await load(withBaseline(), "baseline");
    const { page } = l;
    const outcome = await sizes(page, "outcome-bar");
    expect(outcome).toHaveLength(6);
    expect(outcome.every((s) => s.w > 0 && s.h > 0)).toBe(true);
    const cells = await sizes(page, "heatmap-cell");
    expect(cells).toHaveLength(9);
    expect(cells.every((s) => s.w > 20 && s.h > 20)).toBe(true);
    const counts = await page.$$eval('[data-testid="transition-heatmap"] .cell-count', (els) =>
      els.map((e) => e.textContent),
    );
    expect(counts).toEqual(["580", "4", "2", "0", "151", "0", "1", "0", "252"]);
    expect(await page.locator(".heatmap .cell.changed").count()).toBe(3);
    const matched = await sizes(page, "rule-bar-matched");
    const deciding = await sizes(page, "rule-bar-deciding");
    expect(matched).toHaveLength(6);
    expect(matched.filter((s) => s.w > 0 && s.h > 0)).toHaveLength(5);
    expect(deciding.filter((s) => s.w > 0 && s.h > 0)).toHaveLength(4);
    await expect.poll(() => rows(page).count()).toBe(7);
    clean(l);
    await page.close();
  });

  it("puts the summaries before the long table, and tells looser from stricter at a glance", async () => {
    const l = await load(withBaseline(), "layout");
    const { page } = l;
    await page.setViewportSize({ width: 1280, height: 1500 });
    // Saved for whoever changes the page to look at (out/ is not committed).
    await page.screenshot({ path: join(SCREENSHOTS, "impact-report.png") });

    const order = await page.$$eval(
      "main > section.panel, main .charts-row > section.panel",
      (els) =>
        els
          .map((e) => ({ id: e.id, top: e.getBoundingClientRect().top }))
          .sort((a, b) => a.top - b.top)
          .map((e) => e.id),
    );
    expect(order.indexOf("rules")).toBeGreaterThan(order.indexOf("transitions"));
    expect(order.indexOf("rules")).toBeLessThan(order.indexOf("changes"));
    expect(order.slice(0, 2).sort()).toEqual(["outcomes", "transitions"]);

    // Loosening and tightening cells differ in hue, outline and words.
    const cell = (from: string, to: string) =>
      page.locator(`.heatmap .cell[data-from="${from}"][data-to="${to}"]`).evaluate((e) => ({
        direction: e.getAttribute("data-direction"),
        fill: e.getAttribute("fill") ?? "",
        dash: e.getAttribute("stroke-dasharray"),
      }));
    const looser = await cell("review", "allow");
    const stricter = await cell("allow", "review");
    expect(looser.direction).toBe("looser");
    expect(stricter.direction).toBe("stricter");
    const hue = (fill: string) => Number(/^hsl\((\d+)/.exec(fill)?.[1]);
    expect(Math.abs(hue(looser.fill) - hue(stricter.fill))).toBeGreaterThan(90);
    expect(looser.dash).toBeNull();
    expect(stricter.dash).not.toBeNull();
    expect(await page.locator(".heatmap .cell-direction").allTextContents()).toEqual([
      // rows and columns in the order allow, deny, review
      "▲ STRICTER",
      "▲ STRICTER",
      "▼ LOOSER",
      "▼ LOOSER",
      "▼ LOOSER",
      "▲ STRICTER",
    ]);
    expect(await page.getByTestId("heat-legend-looser").isVisible()).toBe(true);
    expect(await page.getByTestId("heat-legend-stricter").isVisible()).toBe(true);

    // The rule chart's legend shows the bars' own colours.
    const legendFills = await page.$$eval('[data-testid="rule-legend"] rect', (els) =>
      els.map((e) => e.getAttribute("fill")),
    );
    const barFills = new Set(
      await page.$$eval(
        '[data-testid="rule-bar-matched"], [data-testid="rule-bar-deciding"]',
        (els) => els.map((e) => e.getAttribute("fill")),
      ),
    );
    expect(legendFills.length).toBeGreaterThan(0);
    for (const fill of legendFills) expect(barFills.has(fill)).toBe(true);

    // A short rules table is shown whole, without a scrollbar of its own.
    const table = await page.getByTestId("rules-table").evaluate((t) => {
      const wrap = t.parentElement!;
      return { scroll: wrap.scrollHeight, client: wrap.clientHeight };
    });
    expect(table.scroll).toBeLessThanOrEqual(table.client + 1);
    clean(l);
    await page.close();
  });

  it("filters the changed files by text and by transition, and expands a row", async () => {
    const l = await load(withBaseline(), "filters");
    const { page } = l;
    const search = page.getByTestId("changes-search");
    const select = page.getByTestId("changes-transition");

    await search.fill("setup");
    expect(await rows(page).count()).toBe(1);
    expect(await rows(page).first().textContent()).toContain("setup-7.2.exe");
    await search.fill(withBaseline().changes[3]!.sha256.slice(0, 10));
    expect(await rows(page).allTextContents()).toEqual([expect.stringContaining("helper.exe")]);
    await search.fill("review_rule_v2");
    expect(await rows(page).count()).toBe(2);
    await search.fill("no such file");
    expect(await rows(page).count()).toBe(0);
    await search.fill("");
    expect(await rows(page).count()).toBe(7);

    await select.selectOption("allow>review");
    expect(await rows(page).count()).toBe(2);
    for (const text of await rows(page).allTextContents()) expect(text).toContain("allow → review");
    await search.fill("updater");
    expect(await rows(page).count()).toBe(1);
    await search.fill("");
    await select.selectOption("");
    expect(await rows(page).count()).toBe(7);

    // A changed heat-map cell sets the transition filter.
    await page.locator('.heatmap .cell.changed[data-from="review"][data-to="allow"]').click();
    expect(await select.inputValue()).toBe("review>allow");
    expect(await rows(page).count()).toBe(1);

    const row = rows(page).first();
    await row.getByTestId("change-toggle").click();
    const detail = page.getByTestId("change-detail");
    await expect.poll(() => detail.isVisible()).toBe(true);
    const sides = detail.getByTestId("change-side");
    expect(await sides.count()).toBe(2);
    const [before, after] = await sides.allInnerTexts();
    expect(before).toMatch(/Baseline/i);
    expect(before).toContain("review");
    expect(before).toContain("review_rule");
    expect(before).toContain("baseline says review");
    expect(after).toMatch(/Candidate/i);
    expect(after).toContain("allow_rule_v2");
    expect(after).toContain("candidate says allow");
    expect(after).toContain("review_rule, allow_rule_v2");
    expect(await row.getByTestId("change-toggle").getAttribute("aria-expanded")).toBe("true");
    await row.click();
    expect(await detail.count()).toBe(0);
    clean(l);
    await page.close();
  });

  it("handles 2,000 changes: paged rows, search and transition filter", async () => {
    const l = await load(manyChanges(2_000), "many");
    const { page } = l;
    await expect.poll(() => rows(page).count()).toBe(500);
    const more = page.getByTestId("changes-more");
    expect(await more.isVisible()).toBe(true);
    await more.click();
    expect(await rows(page).count()).toBe(1000);
    await page.getByTestId("changes-search").fill("file-00042");
    expect(await rows(page).allTextContents()).toEqual([expect.stringContaining("file-00042.exe")]);
    expect(await more.isVisible()).toBe(false);
    await page.getByTestId("changes-search").fill("");
    await page.getByTestId("changes-transition").selectOption("deny>allow");
    expect(await rows(page).count()).toBe(333);
    expect(await page.getByTestId("changes-count").textContent()).toContain("333");
    expect(await sizes(page, "rule-bar-matched")).toHaveLength(40);
    clean(l);
    await page.close();
  });

  it("shows hostile text as text, and runs none of it", async () => {
    const l = await load(hostile(), "hostile");
    const { page } = l;
    await page.getByTestId("changes-search").fill("alert(1)");
    expect(await rows(page).count()).toBe(1);
    expect(await rows(page).locator("td.file").textContent()).toBe(HOSTILE_NAME);
    await rows(page).first().click();
    expect(await page.getByTestId("change-detail").textContent()).toContain(
      "</script><script>alert(2)",
    );
    expect(await page.locator("main script, main img, tbody b").count()).toBe(0);
    expect(await page.title()).toContain("decisions changed");
    clean(l);
    await page.close();
  });

  it("works without a baseline: a note instead of the matrix and the table", async () => {
    const l = await load(noBaseline(), "single");
    const { page } = l;
    expect(await page.getByTestId("no-baseline-note").isVisible()).toBe(true);
    expect(await page.getByTestId("transition-heatmap").count()).toBe(0);
    expect(await page.getByTestId("changes-table").count()).toBe(0);
    const bars = await sizes(page, "outcome-bar");
    expect(bars).toHaveLength(3);
    expect(bars.every((s) => s.w > 0 && s.h > 0)).toBe(true);
    clean(l);
    await page.close();
  });
});
