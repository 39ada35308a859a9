/**
 * What every real-browser test shares: Debian's Chromium driven by playwright-core (which ships no
 * browser of its own), skipped with a message on a machine without it unless
 * CLEARANCE_TEST_BROWSER=1 (CI) makes it mandatory; a page watched for errors; axe-core's verdict;
 * where screenshots go (out/screenshots/, git-ignored, opened by whoever changes a page).
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "./chromium.js";

export { CHROMIUM };
export const REPO = resolve(import.meta.dirname, "../..");
export const SCREENSHOTS = join(REPO, "out/screenshots");

const REQUIRED = process.env.CLEARANCE_TEST_BROWSER === "1";
const PRESENT = existsSync(CHROMIUM);

export interface BrowserAvailability {
  /** true when the test should be skipped: no Chromium, and CI does not require it */
  skip: boolean;
  /** appended to the suite's title, so a skipped run says why */
  titleSuffix: string;
}

/** Whether `file`'s browser tests run here; says so on stderr when they do not. */
export function browserAvailability(file: string): BrowserAvailability {
  const skip = !PRESENT && !REQUIRED;
  const reason = `${CHROMIUM} not found: install it with scripts/install-chromium.sh (set CLEARANCE_TEST_BROWSER=1 to make this test mandatory)`;
  if (skip) console.warn(`${file} skipped: ${reason}`);
  return { skip, titleSuffix: skip ? ` (skipped: ${reason})` : "" };
}

/** A fresh headless Chromium with its profile in `profileDir`; throws when CI requires a missing one. */
export async function launchBrowser(
  profileDir: string,
  viewport: { width: number; height: number } = { width: 1440, height: 900 },
): Promise<BrowserContext> {
  if (!PRESENT)
    throw new Error(
      `CLEARANCE_TEST_BROWSER=1 requires ${CHROMIUM}, which is missing: run scripts/install-chromium.sh`,
    );
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport,
    // generous: on a loaded 2-core machine Chromium has taken over 15 s to start
    timeout: 60_000,
  });
}

export interface WatchedPage {
  page: Page;
  /** console errors, uncaught exceptions, dialogs (an injected alert), CSP violations */
  errors: string[];
  /** requests that failed at the network level */
  failed: string[];
  /** every request: `METHOD path?query` for this origin's /v1 API, the full URL otherwise */
  requests: string[];
}

/** A new page in `context`, watched for errors and requests from its first load, opened at `url`. */
export async function watchedPage(context: BrowserContext, url?: string): Promise<WatchedPage> {
  const page = await context.newPage();
  const watched: WatchedPage = { page, errors: [], failed: [], requests: [] };
  page.on("console", (m) => {
    if (m.type() === "error") watched.errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => watched.errors.push(`page error: ${e.message}`));
  page.on("dialog", (d) => {
    watched.errors.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on("requestfailed", (r) => watched.failed.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on("request", (r) => {
    const u = new URL(r.url());
    watched.requests.push(
      u.pathname.startsWith("/v1/") ? `${r.method()} ${u.pathname}${u.search}` : r.url(),
    );
  });
  // a content security policy refusal is an error of the page, whatever the test checks
  await page.addInitScript(() => {
    addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  if (url !== undefined) await page.goto(url);
  return watched;
}

/** axe-core's source, evaluated in the page: a CSP without inline script forbids adding a tag. */
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's serious and critical violations on the page as it is now (empty when clean). */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const w = window as unknown as {
      axe: {
        run(): Promise<{
          passes: unknown[];
          violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
        }>;
      };
    };
    const r = await w.axe.run();
    return { passes: r.passes.length, violations: r.violations };
  });
  // axe ran and checked something: an empty list of violations means what it says
  if (result.passes <= 10) throw new Error(`axe-core checked only ${result.passes} rules`);
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}
