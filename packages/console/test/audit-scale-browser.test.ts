/**
 * The Audit page on a log of 100,000 real decisions, in headless Chromium: the recorded history's
 * 3,000 results (examples/history) decided by the shipped rules, again and again under derived
 * SHA-256s, through the server's own batch path. An analyst finds one file by its SHA-256 and
 * pages deep into the log; how fast is bench/'s business (bench/RESULTS.md), this is whether the
 * answers are right at that size.
 */
// biome-ignore-all lint/performance/useDomNodeTextContent: these are Playwright's innerText(), the text as the analyst sees it
import { createHash } from "node:crypto";
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
  watchedPage,
} from "../../../test/support/browser.js";

const BUILT = join(REPO, "packages/server/console/index.html");
const { skip: SKIP, titleSuffix } = browserAvailability("audit-scale-browser.test.ts");

const ENTRIES = 100_000;
const BATCH = 2_000;

interface HistoryResult {
  sha256: string;
  fileName?: string;
  [field: string]: unknown;
}

const HISTORY: readonly HistoryResult[] = readFileSync(
  join(REPO, "examples/history/history.ndjson"),
  "utf8",
)
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line) as HistoryResult);

/** The i-th result decided: the history's own first, then copies under a SHA-256 of their own. */
function resultAt(i: number): HistoryResult {
  const r = HISTORY[i % HISTORY.length]!;
  if (i < HISTORY.length) return r;
  return { ...r, sha256: createHash("sha256").update(`${r.sha256}:${i}`).digest("hex") };
}

describe.skipIf(SKIP)(`the Audit page on 100,000 decisions${titleSuffix}`, () => {
  let dir = "";
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    if (!existsSync(BUILT))
      throw new Error(`the console is not built (no ${BUILT}): run \`pnpm build\` first`);
    dir = mkdtempSync(join(tmpdir(), "clearance-console-scale-"));
    server = await startServer(
      resolveConfig({
        server: { port: 0, logLevel: "warn" },
        rules: { dir: join(REPO, "rules"), watch: false },
        audit: { sqlite: { path: join(dir, "audit.db"), synchronous: "normal" } },
        limits: { pressure: { maxEventLoopDelayMs: 0 } },
        // decisions only: a review would open a case, and a case is entries of its own
        reviews: { enabled: false },
      }),
      { logger: false },
    );
    for (let start = 0; start < ENTRIES; start += BATCH) {
      const items = Array.from({ length: Math.min(BATCH, ENTRIES - start) }, (_, k) => ({
        result: resultAt(start + k),
      }));
      const answers = await server.services.decisions.decideBatch(items, {
        source: "batch",
        requester: null,
      });
      const failed = answers.filter((a) => "error" in a);
      expect(failed).toEqual([]);
    }
    context = await launchBrowser(join(dir, "profile"));
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("holds 100,000 decisions, and finds one file's by its SHA-256 from the form", async () => {
    const verified = (await (
      await fetch(`${server!.url}/v1/audit/verify`, { method: "POST" })
    ).json()) as { ok: boolean; entries: number };
    expect(verified).toMatchObject({ ok: true, entries: ENTRIES });

    // one of the copies, deep in the middle of the log
    const wanted = resultAt(61_234);
    const { page, errors, requests } = await watchedPage(context!);
    await page.goto(`${server!.url}/#/audit`);
    await page.locator("table.entries tbody tr").first().waitFor();
    await page.getByLabel("SHA-256").fill(wanted.sha256);
    await page.getByRole("button", { name: "Search" }).click();
    const rows = page.locator("table.entries tbody tr");
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().locator("td.name").innerText()).toBe(wanted.fileName ?? "(no name)");
    expect(await rows.first().locator("td.mono[title]").getAttribute("title")).toBe(wanted.sha256);
    expect(requests.at(-1)).toBe(`GET /v1/audit?sha256=${wanted.sha256}&limit=50`);

    // the decision shown is the one the rules gave that file, as the API recorded it
    const recorded = (await (
      await fetch(`${server!.url}/v1/audit?sha256=${wanted.sha256}`)
    ).json()) as { entries: { decision: string; rule: string | null }[] };
    expect(recorded.entries).toHaveLength(1);
    expect(await rows.first().locator(".badge").innerText()).toMatch(
      new RegExp(`${recorded.entries[0]!.decision.toUpperCase()}$`),
    );
    expect(await axeViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("pages deep with cursors, and each page holds the next 50 older decisions", async () => {
    const { page, errors } = await watchedPage(context!);
    await page.goto(`${server!.url}/#/audit?decision=deny`);
    const rows = page.locator("table.entries tbody tr");
    await expect.poll(() => rows.count()).toBe(50);
    const seen = new Set<string>();
    for (let depth = 1; depth <= 5; depth++) {
      await expect
        .poll(() => page.locator(".pager span").first().innerText())
        .toBe(`Page ${depth} · 50 entries`);
      const hashes = await rows
        .locator("td.mono[title]")
        .evaluateAll((cells) => cells.map((c) => c.getAttribute("title")!));
      expect(hashes).toHaveLength(50);
      for (const h of hashes) {
        expect(seen.has(h)).toBe(false);
        seen.add(h);
      }
      const badges = await rows.locator(".badge").allInnerTexts();
      expect(badges.every((b) => b.endsWith("DENY"))).toBe(true);
      await page.getByRole("button", { name: "Older →" }).first().click();
    }
    // the same 250 files, in the same order, as the API pages them without the console
    let cursor: string | null = null;
    const api: string[] = [];
    for (let i = 0; i < 5; i++) {
      const url = `${server!.url}/v1/audit?decision=deny&limit=50${cursor ? `&cursor=${cursor}` : ""}`;
      const answer = (await (await fetch(url)).json()) as {
        entries: { sha256: string }[];
        nextCursor: string | null;
      };
      api.push(...answer.entries.map((e) => e.sha256));
      cursor = answer.nextCursor;
    }
    expect([...seen]).toEqual(api);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
