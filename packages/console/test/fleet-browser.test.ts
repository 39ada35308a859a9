/**
 * The console's Fleet page in headless Chromium (see audit-browser.test.ts for the setup): a real
 * server on loopback with the Santa sync server on and two groups, machines that synced over HTTP
 * as Santa's agent does (preflight, eventupload, ruledownload, postflight), some reporting
 * executions, one that never completed a sync, one behind on its group's rules, one with a host
 * name written as markup; a second server with Santa on and a fleet larger than a page, and a
 * third with Santa off. Screenshots go to out/screenshots/.
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
  SCREENSHOTS,
  type WatchedPage,
  watchedPage,
} from "../../../test/support/browser.js";

const BUILT = join(REPO, "packages/server/console/index.html");
const { skip: SKIP, titleSuffix } = browserAvailability("fleet-browser.test.ts");

const HOSTILE = "<img src=x onerror=alert(1)>";
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const TOKENS = {
  engineering: "enroll-engineering-0123456789",
  finance: "enroll-finance-0123456789",
};

/** The machines, in id order (the API lists them by id). */
const MACHINES = {
  ana: { id: "1B7D3F90-2C4A-4E11-9A0B-5C6D7E8F9A01", host: "ana-mbp", group: "engineering" },
  ben: { id: "2E4F6A81-3B5C-4D72-8E93-A4B5C6D7E802", host: "ben-mbp", group: "engineering" },
  build: { id: "3C9A1E55-7D2B-4F63-B184-C2D3E4F5A603", host: "build-07", group: "engineering" },
  carol: { id: "7A2B3C4D-5E6F-4071-8293-A4B5C6D7E804", host: "carol-mba", group: "finance" },
  hostile: { id: "9F8E7D6C-5B4A-4392-8170-6F5E4D3C2B05", host: HOSTILE, group: "finance" },
} as const;
type Name = keyof typeof MACHINES;

// biome-ignore lint/suspicious/noExplicitAny: answers are read by path, and checked by the assertions
type Json = Record<string, any>;

function result(file: string): Json {
  return JSON.parse(readFileSync(join(REPO, "examples/results", file), "utf8"));
}
const MALWARE = result("malware.json");
const SIGNED = result("signed-microsoft.json");
/** a file this server has no analysis of: decided on what the agent said, and no Santa rule */
const UNKNOWN_SHA = "ab".repeat(32);

function execution(sha: string, user: string, name: string): Json {
  return {
    file_sha256: sha.toLowerCase(),
    file_path: "/Users/Shared/Downloads",
    file_name: name,
    executing_user: user,
    execution_time: 1764936000.25,
    decision: "BLOCK_UNKNOWN",
    pid: 4242,
    ppid: 1,
  };
}

describe.skipIf(SKIP)(`the Fleet page in headless Chromium${titleSuffix}`, () => {
  let dir = "";
  let server: RunningServer | undefined;
  let crowd: RunningServer | undefined;
  let off: RunningServer | undefined;
  let context: BrowserContext | undefined;

  /** One stage of Santa's sync protocol, over HTTP as the agent sends it. */
  async function stage(
    on: RunningServer,
    name: string,
    machine: string,
    token: string,
    body: Json,
  ) {
    const res = await fetch(`${on.url}/santa/v1/${name}/${machine}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ machine_id: machine, ...body }),
    });
    const answer = (await res.json()) as Json;
    expect(res.status, `${name} ${machine}: ${JSON.stringify(answer)}`).toBe(200);
    return answer;
  }

  function preflight(on: RunningServer, name: Name) {
    const m = MACHINES[name];
    return stage(on, "preflight", m.id, TOKENS[m.group], {
      serial_num: `C02${name.toUpperCase()}X1Q05D`,
      hostname: m.host,
      os_version: "15.3.1",
      os_build: "24D70",
      model_identifier: "Mac15,3",
      santa_version: name === "ben" ? "2024.9" : "2025.2",
      primary_user: name === "build" ? "ci" : name,
      client_mode: m.group === "finance" ? "LOCKDOWN" : "MONITOR",
      binary_rule_count: 3,
    });
  }

  /** A whole sync: preflight, the executions, every page of rules, and the postflight. */
  async function sync(name: Name, events: Json[] = []) {
    const m = MACHINES[name];
    const token = TOKENS[m.group];
    await preflight(server!, name);
    if (events.length > 0) await stage(server!, "eventupload", m.id, token, { events });
    let received = 0;
    let cursor = "";
    do {
      const down = await stage(server!, "ruledownload", m.id, token, cursor ? { cursor } : {});
      received += (down.rules as unknown[]).length;
      cursor = down.cursor as string;
    } while (cursor !== "");
    await stage(server!, "postflight", m.id, token, {
      rules_received: received,
      rules_processed: received,
    });
  }

  beforeAll(async () => {
    if (!existsSync(BUILT))
      throw new Error(`the console is not built (no ${BUILT}): run \`pnpm build\` first`);
    dir = mkdtempSync(join(tmpdir(), "clearance-fleet-browser-"));
    const config = (name: string, santa: boolean) =>
      resolveConfig({
        server: { port: 0, logLevel: "warn" },
        rules: { dir: join(REPO, "rules"), watch: false },
        audit: { sqlite: { path: join(dir, `${name}.db`), synchronous: "normal" } },
        limits: { pressure: { maxEventLoopDelayMs: 0 } },
        auth: { keys: [] },
        ...(santa
          ? {
              santa: {
                enabled: true,
                groups: [
                  { name: "engineering", mode: "monitor", tokens: [sha256(TOKENS.engineering)] },
                  { name: "finance", mode: "lockdown", tokens: [sha256(TOKENS.finance)] },
                ],
              },
            }
          : {}),
      });
    server = await startServer(config("fleet", true), { logger: false });
    crowd = await startServer(config("crowd", true), { logger: false });
    off = await startServer(config("off", false), { logger: false });
    // the server holds the analyses of these two: the executions become Santa rules
    for (const r of [MALWARE, SIGNED]) {
      const res = await fetch(`${server.url}/v1/decisions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ result: r }),
      });
      expect(res.status).toBe(200);
    }
    // ben syncs before engineering has rules, and never again: 2 rule changes behind
    await sync("ben");
    // ana's executions become engineering's 2 rules, which her next sync brings
    await sync("ana", [
      execution(MALWARE.sha256, "ana", "invoice.app"),
      execution(SIGNED.sha256, "ana", "procexp"),
    ]);
    await sync("ana");
    // the build agent began its first sync and never completed it
    await preflight(server, "build");
    // carol's lockdown machine: one known file (a rule), one unknown (none), then up to date
    await sync("carol", [
      execution(MALWARE.sha256, "carol", "invoice.app"),
      execution(UNKNOWN_SHA, "carol", "helper"),
    ]);
    await sync("carol");
    // a synced machine whose last sync was begun and left open
    await sync("hostile");
    await preflight(server, "hostile");
    context = await launchBrowser(join(dir, "profile"));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await crowd?.close();
    await off?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = (url: string): Promise<WatchedPage> => watchedPage(context!, url);

  /** The row's cells as the analyst reads them, by column. */
  async function rowOf(page: WatchedPage["page"], name: Name) {
    const row = page.locator("table.fleet tbody tr", { hasText: MACHINES[name].id });
    const cells = await row.locator("td").allInnerTexts();
    return {
      row,
      host: cells[0]!,
      group: cells[1]!,
      mode: cells[2]!,
      version: cells[3]!,
      sync: cells[4]!,
      behind: cells[5]!,
      events: cells[6]!,
      trouble: (await row.getAttribute("class"))?.includes("trouble") ?? false,
    };
  }

  it("lists the machines by id with their sync state, trouble marked, and passes axe", async () => {
    const { page, errors, requests } = await open(`${server!.url}/#/fleet`);
    const rows = page.locator("table.fleet tbody tr");
    await expect.poll(() => rows.count()).toBe(5);
    expect(await rows.locator("a.open").allInnerTexts()).toEqual([
      "ana-mbp",
      "ben-mbp",
      "build-07",
      "carol-mba",
      HOSTILE,
    ]);
    // a host name written as markup is text
    expect(await page.locator("table.fleet img").count()).toBe(0);
    expect(requests.filter((r) => r.startsWith("GET /v1/santa/"))).toEqual([
      "GET /v1/santa/machines?limit=50",
    ]);

    const ana = await rowOf(page, "ana");
    expect(ana.host).toBe(`ana-mbp\n${MACHINES.ana.id}`);
    expect([ana.group, ana.mode, ana.version]).toEqual(["engineering", "MONITOR", "2025.2"]);
    expect(ana.sync).toMatch(/^\d+ s ago\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect([ana.behind, ana.events, ana.trouble]).toEqual(["0", "2", false]);

    const ben = await rowOf(page, "ben");
    expect([ben.version, ben.behind, ben.events, ben.trouble]).toEqual([
      "2024.9",
      "▲ 2",
      "0",
      true,
    ]);
    expect(await ben.row.locator(".flag-behind").count()).toBe(1);

    const build = await rowOf(page, "build");
    expect(build.sync).toMatch(
      /^✕ never synced\nregistered \d+ s ago\n⋯ CLEAN sync not completed, begun \d+ s ago$/,
    );
    expect([build.behind, build.events, build.trouble]).toEqual(["▲ 2", "0", true]);

    const carol = await rowOf(page, "carol");
    expect([carol.group, carol.mode, carol.behind, carol.events, carol.trouble]).toEqual([
      "finance",
      "LOCKDOWN",
      "0",
      "2",
      false,
    ]);

    const hostile = await rowOf(page, "hostile");
    expect(hostile.sync).toMatch(/ UTC\n⋯ NORMAL sync not completed, begun \d+ s ago$/);
    expect([hostile.behind, hostile.trouble]).toEqual(["0", true]);

    expect(await page.locator(".fleet-summary").innerText()).toBe(
      "⚠ 5 machines on this page: 2 behind on the group's rules, 1 never completed a sync, 2 with a sync begun and not completed.",
    );
    expect(await page.locator(".pager span").first().innerText()).toBe("Page 1 · 5 machines");
    // the nav offers the page like the others, marked as the one shown
    const nav = page.getByRole("navigation", { name: "Pages" });
    expect(await nav.getByRole("link").allInnerTexts()).toEqual([
      "Reviews",
      "Exceptions",
      "Audit",
      "Rules",
      "Playground",
      "Fleet",
    ]);
    expect(await nav.getByRole("link", { name: "Fleet" }).getAttribute("aria-current")).toBe(
      "page",
    );
    await page.screenshot({ path: join(SCREENSHOTS, "console-fleet.png") });
    expect(await axeViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("filters by group from the form and the address, and says what it refuses", async () => {
    const { page, errors, requests } = await open(`${server!.url}/#/fleet`);
    const rows = page.locator("table.fleet tbody tr");
    await expect.poll(() => rows.count()).toBe(5);
    await page.getByLabel("Group", { exact: true }).fill("finance");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => page.url()).toBe(`${server!.url}/#/fleet?group=finance`);
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.locator("a.open").allInnerTexts()).toEqual(["carol-mba", HOSTILE]);
    expect(requests.at(-1)).toBe("GET /v1/santa/machines?group=finance&limit=50");
    expect(await page.locator("#fleet-title").innerText()).toBe("Machines of group finance, by id");

    // a row's group is a link to that group's machines
    await page.getByRole("link", { name: "Clear" }).click();
    await expect.poll(() => rows.count()).toBe(5);
    await rows.first().getByRole("link", { name: "engineering" }).click();
    await expect.poll(() => page.url()).toBe(`${server!.url}/#/fleet?group=engineering`);
    await expect
      .poll(() => rows.locator("a.open").allInnerTexts())
      .toEqual(["ana-mbp", "ben-mbp", "build-07"]);
    expect(await page.getByLabel("Group", { exact: true }).inputValue()).toBe("engineering");

    // a name the API would refuse is marked before it is sent; one with no machine says so
    await page.getByLabel("Group", { exact: true }).fill("x".repeat(65));
    await page.getByRole("button", { name: "Filter" }).click();
    expect(await page.locator("#fleet-group-problem").innerText()).toBe(
      "a group's name has at most 64 characters; this one has 65",
    );
    expect(await page.getByLabel("Group", { exact: true }).getAttribute("aria-invalid")).toBe(
      "true",
    );
    await page.getByLabel("Group", { exact: true }).fill("marketing");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect
      .poll(() => page.locator("section[aria-labelledby=fleet-title] .notice").innerText())
      .toContain("No machine is registered in group marketing.");
    expect(requests.filter((r) => r.includes("x".repeat(65)))).toEqual([]);
    expect(await axeViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("shows one machine: its facts, sync state, group's rules and a link to its decisions", async () => {
    const { page, errors } = await open(`${server!.url}/#/fleet`);
    const rows = page.locator("table.fleet tbody tr");
    await expect.poll(() => rows.count()).toBe(5);
    // j and Enter open the second machine; Esc comes back to the list, the row still selected
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("j");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.url()).toBe(`${server!.url}/#/fleet/${MACHINES.ben.id}`);
    const title = page.locator("#machine-title");
    await expect.poll(() => title.innerText()).toBe("ben-mbp");
    expect(await page.locator("header.entry-head .flag-trouble").allInnerTexts()).toEqual([
      "▲ 2 rule changes behind",
    ]);
    expect(await page.locator("section[aria-labelledby=sync-title] .facts").innerText()).toMatch(
      /Rules behind\s+▲ 2 rule changes of the group not confirmed/,
    );
    await page.screenshot({ path: join(SCREENSHOTS, "console-fleet-machine.png"), fullPage: true });
    expect(await axeViolations(page)).toEqual([]);
    await page.keyboard.press("Escape");
    await expect.poll(() => page.url()).toBe(`${server!.url}/#/fleet`);
    await expect.poll(() => rows.nth(1).getAttribute("aria-current")).toBe("true");

    await rows.first().locator("a.open").click();
    await expect.poll(() => title.innerText()).toBe("ana-mbp");
    const machine = await page.locator("section[aria-labelledby=facts-title] .facts").innerText();
    expect(machine).toMatch(/Host name\s+ana-mbp/);
    expect(machine).toMatch(/Serial number\s+C02ANAX1Q05D/);
    expect(machine).toMatch(/Model\s+Mac15,3/);
    expect(machine).toMatch(/macOS\s+15\.3\.1 \(24D70\)/);
    expect(machine).toMatch(/Santa version\s+2025\.2/);
    expect(machine).toMatch(/Primary user\s+ana/);
    expect(machine).toMatch(/Group\s+engineering/);
    const sync = await page.locator("section[aria-labelledby=sync-title] .facts").innerText();
    expect(sync).toMatch(/Last completed sync\s+\d+ s ago \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    expect(sync).toMatch(/Sync in progress\s+none/);
    expect(sync).toMatch(/Rules behind\s+0: it confirmed every rule change of its group/);
    expect(sync).toMatch(/Rule changes confirmed\s+2/);
    expect(sync).toMatch(/Last sync's rules\s+2 received, 2 processed/);
    expect(sync).toMatch(/Rules it held\s+3 at its last preflight/);
    expect(sync).toMatch(/Mode\s+MONITOR \(as reported\)/);
    expect(sync).toMatch(/Events reported\s+2 since it registered/);
    expect(await page.locator("header.entry-head .flag-trouble").count()).toBe(0);
    expect(await page.locator("header.entry-head .flag-ok").innerText()).toBe(
      "✓ confirmed every rule change of its group",
    );
    // the group's standing rules: ana's two files, one allowed and one blocked
    const rules = page.locator("table.group-rules tbody tr");
    expect(await rules.allInnerTexts()).toEqual(["BINARY\tALLOWLIST\t1", "BINARY\tBLOCKLIST\t1"]);
    expect(await page.locator("section[aria-labelledby=rules-title] p").innerText()).toContain(
      "2 in all",
    );
    expect(await axeViolations(page)).toEqual([]);

    // its primary user's executions in the audit log: both of ana's, recorded as Santa's
    const requester = `santa:ana@${MACHINES.ana.id}`;
    await page.getByRole("link", { name: /^Executions by ana/ }).click();
    await expect
      .poll(() => page.url())
      .toBe(`${server!.url}/#/audit?${new URLSearchParams({ requester, source: "santa" })}`);
    const entries = page.locator("table.entries tbody tr");
    await expect.poll(() => entries.count()).toBe(2);
    // decided in one upload, at the same moment: in either order; the rows' cells fill in as the
    // page renders, so they are polled like the count
    await expect
      .poll(async () => (await entries.locator("td.name").allInnerTexts()).sort())
      .toEqual([SIGNED.fileName, MALWARE.fileName].sort());
    expect(await page.getByLabel("Source").inputValue()).toBe("santa");
    expect(await page.getByLabel("Requester").inputValue()).toBe(requester);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("shows a never-synced machine and a markup host name as they are, and an unknown id", async () => {
    const build = await open(`${server!.url}/#/fleet/${MACHINES.build.id}`);
    await expect.poll(() => build.page.locator("#machine-title").innerText()).toBe("build-07");
    expect(await build.page.locator("header.entry-head .flag-trouble").allInnerTexts()).toEqual([
      "✕ never synced",
      "⋯ CLEAN sync not completed",
      "▲ 2 rule changes behind",
    ]);
    const sync = await build.page.locator("section[aria-labelledby=sync-title] .facts").innerText();
    expect(sync).toMatch(/Last completed sync\s+✕ never: no sync of this machine has completed/);
    expect(sync).toMatch(/Sync in progress\s+⋯ a CLEAN sync, begun at its last preflight/);
    expect(sync).toMatch(/Last sync's rules\s+none: it sent no postflight/);
    await build.page.screenshot({
      path: join(SCREENSHOTS, "console-fleet-machine-never-synced.png"),
      fullPage: true,
    });
    // the primary user is `ci`: its executions' link names it
    expect(
      await build.page.getByRole("link", { name: /^Executions by ci, its primary user/ }).count(),
    ).toBe(1);
    expect(await axeViolations(build.page)).toEqual([]);

    const hostile = await open(`${server!.url}/#/fleet/${MACHINES.hostile.id}`);
    await expect.poll(() => hostile.page.locator("#machine-title").innerText()).toBe(HOSTILE);
    expect(await hostile.page.locator("article.machine img").count()).toBe(0);
    // finance's one rule: carol's blocked file (her unknown file became no rule)
    expect(await hostile.page.locator("table.group-rules tbody tr").allInnerTexts()).toEqual([
      "BINARY\tBLOCKLIST\t1",
    ]);

    const unknown = await open(`${server!.url}/#/fleet/NO-SUCH-MACHINE`);
    await expect
      .poll(() => unknown.page.locator(".notice.error").innerText())
      .toBe("The server answered 404 not_found: no Santa machine `NO-SUCH-MACHINE` is registered");
    for (const w of [build, hostile]) expect(w.errors).toEqual([]);
    // the 404s asked for, which Chromium logs as failed loads
    expect(unknown.errors.filter((e) => !/status of 404/.test(e))).toEqual([]);
    for (const w of [build, hostile, unknown]) await w.page.close();
  }, 60_000);

  it("says so when no machine has enrolled, then pages a fleet larger than a page by cursor", async () => {
    const { page, errors, requests } = await open(`${crowd!.url}/#/fleet`);
    const empty = page.locator("section[aria-labelledby=no-machines-title]");
    await expect.poll(() => empty.count()).toBe(1);
    expect(await empty.innerText()).toContain("No machine has enrolled yet");
    expect(await axeViolations(page)).toEqual([]);

    for (let i = 0; i < 55; i++)
      await stage(crowd!, "preflight", `M-${String(i).padStart(3, "0")}`, TOKENS.finance, {
        hostname: `teller-${i}`,
      });
    await page.reload();
    const rows = page.locator("table.fleet tbody tr");
    await expect.poll(() => rows.count()).toBe(50);
    expect(await rows.first().locator("a.open").innerText()).toBe("teller-0");
    await page.getByRole("button", { name: "Next →" }).first().click();
    await expect
      .poll(() => page.locator(".pager span").first().innerText())
      .toBe("Page 2 · 5 machines");
    expect(await rows.locator("a.open").allInnerTexts()).toEqual(
      [50, 51, 52, 53, 54].map((i) => `teller-${i}`),
    );
    expect(await page.getByRole("button", { name: "Next →" }).first().isDisabled()).toBe(true);
    await page.getByRole("button", { name: "← Previous" }).first().click();
    await expect
      .poll(() => page.locator(".pager span").first().innerText())
      .toBe("Page 1 · 50 machines");
    const pages = requests.filter((r) => r.startsWith("GET /v1/santa/machines?"));
    expect(pages.at(-2)).toBe("GET /v1/santa/machines?limit=50&cursor=M-049");
    expect(pages.join(" ")).not.toMatch(/offset|page=/);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it("says that Santa is off, on the list and on a machine's page, when the API answers 404", async () => {
    for (const path of ["#/fleet", "#/fleet/1B7D3F90"]) {
      const { page, errors } = await open(`${off!.url}/${path}`);
      const notice = page.locator("section[aria-labelledby=santa-off-title]");
      await expect.poll(() => notice.count()).toBe(1);
      const text = await notice.innerText();
      expect(text).toContain("Santa is off on this server");
      expect(text).toContain("santa.enabled is false");
      expect(text).toContain("docs/endpoints.md");
      expect(await page.locator(".notice.error").count()).toBe(0);
      // no group form: there is no fleet to narrow
      expect(await page.locator("form.search").count()).toBe(0);
      if (path === "#/fleet")
        await page.screenshot({ path: join(SCREENSHOTS, "console-fleet-santa-off.png") });
      expect(await axeViolations(page)).toEqual([]);
      expect(errors.filter((e) => !/status of 404/.test(e))).toEqual([]);
      await page.close();
    }
  }, 60_000);
});
