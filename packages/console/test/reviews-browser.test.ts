/**
 * The console's Reviews and Exceptions pages in a real headless browser (Debian's Chromium driven
 * by playwright-core) against a real server on loopback without API keys (voters named in the
 * body), `reviews.approvalsRequired: 2`, and review cases opened by real requests decided by the
 * repository's rules. Skipped when /usr/bin/chromium is absent, unless CLEARANCE_TEST_BROWSER=1.
 * Needs the console built (`pnpm build`). Screenshots go to out/screenshots/ (git-ignored).
 */
// biome-ignore-all lint/performance/useDomNodeTextContent: these are Playwright's innerText(), the text as the analyst sees it, not the DOM property the rule is about
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningServer, resolveConfig, startServer } from "@clearance/server";
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

const BUILT = join(REPO, "packages/server/console/index.html");
const { skip: SKIP, titleSuffix } = browserAvailability("reviews-browser.test.ts");
const HOSTILE = "<script>alert(1)</script>.exe";
const DAY = 86_400_000;

// biome-ignore lint/suspicious/noExplicitAny: answers are read by path, and checked by the assertions
type Json = Record<string, any>;

function result(file: string, change: (r: Json) => void = () => {}): Json {
  const r = JSON.parse(readFileSync(join(REPO, "examples/results", file), "utf8"));
  change(r);
  return r;
}

/** The files the rules send to review, oldest case first. */
const FILES = {
  // no rule matches: the default's review; a vendor, no valid signature
  pdf: result("unsigned-lowscore.json"),
  // expired_signature
  putty: result("expired-signature.json"),
  // self_signed, named as markup
  hostile: result("self-signed-tool.json", (r) => {
    r.fileName = HOSTILE;
  }),
  // one engine's detection: any_malicious_detection, forbid-approval
  flagged: result("unsigned-lowscore.json", (r) => {
    r.sha256 = "1".repeat(64);
    r.fileName = "pdf-merge-free-setup (1).exe";
    r.detections.malicious = 1;
    r.engines = [
      {
        engine: "Kaspersky",
        category: "malicious",
        result: "not-a-virus:HEUR:AdWare.Win32",
        version: "1",
      },
      { engine: "ClamAV", category: "undetected", result: null, version: "1" },
    ];
  }),
  fresh: result("fresh-unknown.json"),
};

describe.skipIf(SKIP)(`the Reviews and Exceptions pages in headless Chromium${titleSuffix}`, () => {
  let dir = "";
  let server: RunningServer | undefined;
  let empty: RunningServer | undefined;
  let context: BrowserContext | undefined;
  const cases: Record<keyof typeof FILES, string> = {} as never;

  const api = async (path: string, init: RequestInit = {}): Promise<Json> => {
    const res = await fetch(`${server!.url}${path}`, {
      ...init,
      headers: { "content-type": "application/json" },
    });
    return (await res.json()) as Json;
  };

  beforeAll(async () => {
    if (!existsSync(BUILT))
      throw new Error(`the console is not built (no ${BUILT}): run \`pnpm build\` first`);
    dir = mkdtempSync(join(tmpdir(), "clearance-reviews-browser-"));
    const config = (name: string) =>
      resolveConfig({
        server: { port: 0, logLevel: "warn" },
        rules: { dir: join(REPO, "rules"), watch: false },
        audit: { sqlite: { path: join(dir, `${name}.db`), synchronous: "normal" } },
        limits: { pressure: { maxEventLoopDelayMs: 0 } },
        auth: { keys: [] },
        reviews: { approvalsRequired: 2, sweepIntervalMs: 3_600_000 },
      });
    server = await startServer(config("reviews"), { logger: false });
    empty = await startServer(config("empty"), { logger: false });
    // one at a time: the queue is oldest first
    for (const [name, r] of Object.entries(FILES)) {
      const answer = await api("/v1/decisions", {
        method: "POST",
        body: JSON.stringify({ result: r, explain: true }),
      });
      expect(answer.decision, name).toBe("review");
      expect(answer.case, name).toMatch(/^[0-9a-f-]{36}$/);
      cases[name as keyof typeof FILES] = answer.case;
    }
    context = await launchBrowser(join(dir, "profile"));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await empty?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = (url: string): Promise<WatchedPage> => watchedPage(context!, url);

  /** Errors but the refusals the test provokes, which Chromium logs as failed loads. */
  const unexpected = (errors: string[]) => errors.filter((e) => !/status of (400|403|409)/.test(e));

  async function fillVote(
    page: Page,
    v: { voter: string; vote: "approve" | "reject"; why: string; expires?: string },
  ) {
    await page.getByLabel("Voting as").fill(v.voter);
    await page.getByLabel(v.vote === "approve" ? "Approve" : "Reject").check();
    await page.getByLabel("Justification (required)").fill(v.why);
    if (v.expires !== undefined) await page.getByLabel("Expires (UTC)").fill(v.expires);
  }

  it("opens Reviews at #/ when cases are open, and Audit when none is", async () => {
    const a = await open(`${empty!.url}/`);
    await expect.poll(() => a.page.url()).toMatch(/#\/audit$/);
    await a.page.locator("h1", { hasText: "Audit log" }).waitFor();
    const b = await open(`${server!.url}/`);
    await expect.poll(() => b.page.url()).toMatch(/#\/reviews$/);
    await b.page.locator("h1", { hasText: "Review queue" }).waitFor();
    expect([...a.errors, ...b.errors]).toEqual([]);
    await a.page.close();
    await b.page.close();
  }, 60_000);

  it("pages a long queue with the API's cursor, never an offset", async () => {
    // the empty server's log gets 55 cases of its own here (the landing test has run on it)
    for (let i = 0; i < 55; i++) {
      const r = {
        ...FILES.fresh,
        sha256: i.toString(16).padStart(64, "0"),
        fileName: `setup-${i}.exe`,
      };
      const res = await fetch(`${empty!.url}/v1/decisions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ result: r }),
      });
      expect((await res.json()).case).toBeTruthy();
    }
    const { page, errors, requests } = await open(`${empty!.url}/#/reviews`);
    const rows = page.locator("table.queue tbody tr");
    await expect.poll(() => rows.count()).toBe(50);
    expect(await rows.first().locator("a.open").innerText()).toBe("setup-0.exe");
    await page.getByRole("button", { name: "Newer →" }).click();
    await expect.poll(() => page.locator(".pager span").innerText()).toBe("Page 2 · 5 cases");
    expect(await rows.locator("a.open").allInnerTexts()).toEqual(
      [50, 51, 52, 53, 54].map((i) => `setup-${i}.exe`),
    );
    expect(await page.getByRole("button", { name: "Newer →" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "← Older" }).click();
    await expect.poll(() => page.locator(".pager span").innerText()).toBe("Page 1 · 50 cases");
    const pages = requests.filter((r) => r.startsWith("GET /v1/reviews?"));
    expect(pages[0]).toBe("GET /v1/reviews?limit=50");
    expect(pages[1]).toMatch(/^GET \/v1\/reviews\?limit=50&cursor=[0-9a-f-]{36}$/);
    expect(pages.join(" ")).not.toMatch(/offset|page=/);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it("lists the open cases oldest first, file names as text, and filters by rule", async () => {
    const { page, errors, requests } = await open(`${server!.url}/#/reviews`);
    const rows = page.locator("table.queue tbody tr");
    await expect.poll(() => rows.count()).toBe(5);
    expect(await rows.locator("a.open").allInnerTexts()).toEqual([
      "pdf-merge-free-setup.exe",
      "putty.exe",
      HOSTILE,
      "pdf-merge-free-setup (1).exe",
      "setup_v2.3.1.exe",
    ]);
    expect(await page.locator("table.queue script").count()).toBe(0);
    const putty = await rows.nth(1).innerText();
    expect(putty).toContain("expired_signature");
    expect(putty).toContain("signature expired (signed by Simon Tatham)");
    expect(putty).toMatch(/in 6 d 23 h|in 7 d/);
    expect(putty).toContain("none yet");
    expect(putty).toContain("2 more approvals");
    expect(await rows.nth(3).innerText()).toContain("approval forbidden");
    expect(requests.filter((r) => r.startsWith("GET /v1/reviews?"))).toEqual([
      "GET /v1/reviews?limit=50",
    ]);
    await page.screenshot({ path: join(SCREENSHOTS, "console-reviews-queue.png") });
    expect(await axeViolations(page)).toEqual([]);

    // a filter the API would refuse is marked before it is sent; a good one narrows the queue
    await page.getByLabel("Open at least (2h, 3d, 1d12h)").fill("two days");
    await page.getByRole("button", { name: "Filter" }).click();
    expect(await page.locator("#q-olderThan-problem").innerText()).toBe(
      "`two days` is not a duration: write `2h`, `3d` or `1d12h`",
    );
    await page.getByLabel("Open at least (2h, 3d, 1d12h)").fill("");
    await page.getByLabel("Rule that asked for review").fill("expired_signature");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => page.url()).toContain("#/reviews?rule=expired_signature");
    await expect.poll(() => rows.count()).toBe(1);
    expect(requests.at(-1)).toBe("GET /v1/reviews?rule=expired_signature&limit=50");
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("two reviewers approve a case: checks, a refusal in words, then the file is allowed", async () => {
    const ana = await open(`${server!.url}/#/reviews/${cases.pdf}`);
    const page = ana.page;
    const title = page.locator("#case-title");
    await expect.poll(() => title.innerText()).toBe("pdf-merge-free-setup.exe");
    // the file's facts from the input snapshot, the explanation, the request that opened it
    const facts = await page.locator("section[aria-labelledby=file-title] .facts").innerText();
    expect(facts).toMatch(/Signature\s+unsigned/);
    expect(facts).toMatch(/Vendor\s+PDFMergeFree \/ PDF Merge Free/);
    expect(facts).toMatch(/Detections\s+0 \/ \d+ engines call it malicious/);
    expect(facts).toMatch(/Trust score\s+38/);
    expect(facts).toMatch(/First seen\s+.*2026-09-02T14:05:48Z/);
    expect(await page.locator("section[aria-labelledby=reason-title]").innerText()).toContain(
      "No rule matched: the rule set's default asked for review: “no rule matched”.",
    );
    expect(await page.locator(".explain .rule-node").count()).toBeGreaterThan(5);
    expect(await page.locator("section[aria-labelledby=requests-title] tbody tr").count()).toBe(1);
    // the input snapshot folds, as JSON text
    await page.getByText("Input snapshot (JSON)").click();
    expect(JSON.parse(await page.locator("pre.json").innerText()).result.fileName).toBe(
      "pdf-merge-free-setup.exe",
    );
    // the scopes it may ask for: the file, the vendor's product; no signer (no valid signature)
    expect(
      await page
        .locator("fieldset.choice input[name=kind]")
        .evaluateAll((i) => i.map((x) => (x as HTMLInputElement).value)),
    ).toEqual(["file", "vendor"]);
    await page.screenshot({ path: join(SCREENSHOTS, "console-reviews-case.png"), fullPage: true });
    expect(await axeViolations(page)).toEqual([]);

    // checked before sending: no justification, an expiry past the policy's maximum
    const sent = () => ana.requests.filter((r) => r.startsWith("POST /v1/reviews/")).length;
    await fillVote(page, { voter: "ana", vote: "approve", why: "  ", expires: "2099-01-01T00:00" });
    await page.getByRole("button", { name: "Send approval" }).click();
    expect(await page.locator("#v-justification-problem").innerText()).toBe(
      "a justification is required: say why",
    );
    expect(await page.locator("#v-expires-problem").innerText()).toMatch(
      /^2099-01-01 00:00 UTC is later than the policy allows: at most 365d from now \(\d{4}-/,
    );
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("v-justification");
    expect(sent()).toBe(0);

    // ana approves for three days: the exception will take the earliest expiry asked for
    const threeDays = new Date(Date.now() + 3 * DAY).toISOString().slice(0, 16);
    await fillVote(page, {
      voter: "ana",
      vote: "approve",
      why: "the finance team needs it; the PUA hit is a bundled offer the installer lets us decline",
      expires: threeDays,
    });
    await page.getByRole("button", { name: "Send approval" }).click();
    // the outcome, shown on the next case the console moved to
    await expect.poll(() => page.url()).toContain(`#/reviews/${cases.putty}`);
    const outcome = page.locator(".outcome-notice");
    await expect.poll(() => outcome.innerText()).toContain("Your approval is recorded.");
    expect(await outcome.innerText()).toContain(
      "The case is still open, waiting for 1 more approval.",
    );

    // ana may not vote again: the server's refusal, in words, near the form, with the focus
    await page.goto(`${server!.url}/#/reviews/${cases.pdf}`);
    await expect.poll(() => title.innerText()).toBe("pdf-merge-free-setup.exe");
    expect(await page.locator("section[aria-labelledby=votes-title]").innerText()).toContain("ana");
    await fillVote(page, { voter: "ana", vote: "reject", why: "changed my mind" });
    await page.getByRole("button", { name: "Send rejection" }).click();
    const refused = page.locator(".vote-panel [role=alert]");
    await expect
      .poll(() => refused.innerText())
      .toContain("You have already voted on this case, and a vote cannot be changed");
    expect(await page.evaluate(() => document.activeElement?.className)).toContain("refused");

    // ben, in another page, approves: the second approval resolves the case
    const ben = await open(`${server!.url}/#/reviews/${cases.pdf}`);
    await expect
      .poll(() => ben.page.locator("#case-title").innerText())
      .toBe("pdf-merge-free-setup.exe");
    expect(await ben.page.getByLabel("Voting as").inputValue()).toBe("ana"); // remembered
    await fillVote(ben.page, {
      voter: "ben",
      vote: "approve",
      why: "ran it in a sandbox: no network beyond its update check",
    });
    await ben.page.getByRole("button", { name: "Send approval" }).click();
    const benOutcome = ben.page.locator(".outcome-notice");
    await expect.poll(() => benOutcome.innerText()).toContain("The case is resolved: approved");
    expect(await benOutcome.innerText()).toMatch(
      /with file exception [0-9a-f-]{36} by ana, ben, until .*The file was decided again: allow \(rule approved_by_people: approved by ana, ben/s,
    );
    expect(await ben.page.getByLabel("Voting as").inputValue()).toBe("ben");

    // the Audit page shows the file's newest decision: allow, decided again by the review
    await ben.page.goto(`${server!.url}/#/audit?sha256=${FILES.pdf.sha256}`);
    const newest = ben.page.locator("table.entries tbody tr").first();
    await expect.poll(() => newest.locator(".badge").innerText()).toMatch(/ALLOW$/);
    expect(await newest.locator("td").nth(7).innerText()).toBe("review");
    expect(unexpected(ana.errors)).toEqual([]);
    expect(ben.errors).toEqual([]);
    await page.close();
    await ben.page.close();
  }, 90_000);

  it("disables approving a file a forbid-approval rule matched, and says why in words", async () => {
    const { page, errors } = await open(`${server!.url}/#/reviews/${cases.flagged}`);
    await expect
      .poll(() => page.locator("#case-title").innerText())
      .toBe("pdf-merge-free-setup (1).exe");
    expect(await page.locator("#forbidden-reason").innerText()).toContain(
      "Approving is forbidden: the decision matched rule any_malicious_detection (forbid-approval)",
    );
    expect(await page.locator("#v-vote-approve").isDisabled()).toBe(true);
    expect(await page.locator("#v-vote-reject").isChecked()).toBe(true);
    expect(await page.locator("#v-vote-approve").getAttribute("aria-describedby")).toBe(
      "forbidden-reason",
    );
    const facts = await page.locator("section[aria-labelledby=file-title] .facts").innerText();
    expect(facts).toMatch(/Detections\s+1 \/ 2 engines call it malicious/);
    expect(facts).toContain("Kaspersky: not-a-virus:HEUR:AdWare.Win32");
    // `a` does not approve: it says why
    await page.keyboard.press("a");
    await expect
      .poll(() => page.locator(".vote-panel [role=alert]").innerText())
      .toContain("Approving is forbidden");
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, "console-reviews-forbidden.png") });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("runs through the queue with the keyboard only, and rejects a case", async () => {
    const { page, errors } = await open(`${server!.url}/#/reviews`);
    const rows = page.locator("table.queue tbody tr");
    await expect.poll(() => rows.count()).toBe(4);
    expect(await rows.first().locator("a.open").innerText()).toBe("putty.exe");
    await page.keyboard.press("j");
    await page.keyboard.press("j");
    await expect.poll(() => rows.nth(2).getAttribute("aria-current")).toBe("true");
    await page.keyboard.press("k");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.url()).toContain(`#/reviews/${cases.hostile}`);
    // a markup file name is text
    await expect.poll(() => page.locator("#case-title").innerText()).toBe(HOSTILE);
    expect(await page.locator("article.case script").count()).toBe(0);
    // Escape: back to the queue, the same row selected
    await page.keyboard.press("Escape");
    await expect.poll(() => page.url()).toMatch(/#\/reviews$/);
    await expect.poll(() => rows.nth(1).getAttribute("aria-current")).toBe("true");
    await page.keyboard.press("k");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.url()).toContain(`#/reviews/${cases.putty}`);
    await page.locator("#case-title").waitFor();
    // r: reject, the cursor in the justification
    await page.keyboard.press("r");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("v-justification");
    expect(await page.locator("#v-vote-reject").isChecked()).toBe(true);
    await page.keyboard.type("PuTTY 0.70 is years out of date: install the current release");
    // the voter is remembered from the last vote; Tab to the expiry field, Enter sends
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("v-expires");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.url()).toContain(`#/reviews/${cases.hostile}`);
    const outcome = page.locator(".outcome-notice");
    await expect.poll(() => outcome.innerText()).toContain("Your rejection is recorded.");
    expect(await outcome.innerText()).toMatch(
      /resolved: rejected, with file exception .* by ben.*decided again: deny \(rule rejected_by_people/s,
    );
    const decided = await api(`/v1/decisions/${FILES.putty.sha256}`);
    expect([decided.decision, decided.source, decided.rule]).toEqual([
      "deny",
      "review",
      "rejected_by_people",
    ]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("lists exceptions by state, and revokes one with a justification after a confirm step", async () => {
    const { page, errors } = await open(`${server!.url}/#/exceptions`);
    const rows = page.locator("table.exceptions tbody tr");
    await expect.poll(() => rows.count()).toBe(2);
    const all = await rows.allInnerTexts();
    // newest first: putty's rejection, then the approval of the pdf tool
    expect(all[0]).toContain(`file ${FILES.putty.sha256.slice(0, 12)}…`);
    expect(all[0]).toContain("REJECTED");
    expect(all[1]).toContain(`file ${FILES.pdf.sha256.slice(0, 12)}…`);
    expect(await rows.nth(1).locator("td.covers").getAttribute("title")).toBe(
      `file ${FILES.pdf.sha256}`,
    );
    expect(all[1]).toContain("APPROVED");
    expect(all[1]).toContain("ana, ben");
    expect(all[1]).toMatch(/in 2 d 23 h|in 3 d/);
    expect(all[1]).toContain("within 7 days");
    expect(all[0]).not.toContain("within 7 days");
    expect(await rows.nth(1).getByRole("link", { name: "review case" }).getAttribute("href")).toBe(
      `#/reviews/${cases.pdf}`,
    );
    await page.screenshot({ path: join(SCREENSHOTS, "console-exceptions.png") });
    expect(await axeViolations(page)).toEqual([]);

    // expiring within 7 days: the three-day approval only
    await page.getByRole("link", { name: "Expiring within 7 days" }).click();
    await expect.poll(() => page.url()).toContain("#/exceptions?tab=soon");
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().locator("td.covers").getAttribute("title")).toBe(
      `file ${FILES.pdf.sha256}`,
    );
    // the kind and SHA-256 filters
    await page.getByLabel("SHA-256 (file exceptions)").fill("abc");
    await page.getByRole("button", { name: "Filter" }).click();
    expect(await page.locator("#x-sha256-problem").innerText()).toContain("64 hex digits");
    await page.getByRole("link", { name: "Active" }).click();
    // the tab's page replaces the form (the bad value's problem goes with it): fill the new one
    await page.locator("#x-sha256-problem").waitFor({ state: "detached" });
    await page.getByLabel("SHA-256 (file exceptions)").fill(FILES.putty.sha256);
    await page.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => page.url()).toContain(`sha256=${FILES.putty.sha256}`);
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain("REJECTED");

    // revoke the approval: a justification is required, then a confirm step
    await page.goto(`${server!.url}/#/exceptions?tab=soon`);
    await rows.first().locator("a.open").click();
    await expect.poll(() => page.url()).toMatch(/#\/exceptions\/[0-9a-f-]{36}$/);
    await page.locator("#exception-title").waitFor();
    await expect
      .poll(() => page.locator(".facts").first().innerText())
      .toMatch(/File name \(its case\)\s+pdf-merge-free-setup\.exe/);
    await page.getByLabel("Revoking as").fill("ana");
    await page.getByRole("button", { name: "Revoke…" }).click();
    expect(await page.locator("#r-justification-problem").innerText()).toBe(
      "a justification is required: say why",
    );
    await page
      .getByLabel("Justification (required)")
      .fill("the vendor was sold; the new installer bundles adware");
    await page.getByRole("button", { name: "Revoke…" }).click();
    const confirm = page.getByRole("button", { name: "Yes, revoke it" });
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.textContent))
      .toBe("Yes, revoke it");
    expect(await page.locator(".confirm").innerText()).toContain(FILES.pdf.sha256);
    await confirm.click();
    const done = page.locator(".notice.done");
    await expect
      .poll(() => done.innerText())
      .toMatch(
        /^Revoked \d{4}-.* UTC by ana: the vendor was sold; the new installer bundles adware\./,
      );
    expect(await page.locator(".facts").first().innerText()).toMatch(/State\s+revoked/);
    await page.screenshot({ path: join(SCREENSHOTS, "console-exceptions-revoked.png") });
    expect(await axeViolations(page)).toEqual([]);

    // the file is decided again without it: back to review, with a new case
    const decided = await api(`/v1/decisions/${FILES.pdf.sha256}`);
    expect([decided.decision, decided.source]).toEqual(["review", "review"]);
    expect(decided.case).not.toBe(cases.pdf);
    await page.goto(`${server!.url}/#/exceptions?tab=revoked`);
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain("revoked");
    expect(await rows.first().innerText()).toContain("was due");
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);
});
