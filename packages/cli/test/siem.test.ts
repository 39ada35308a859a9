// `clearance siem test --sink <name>`: one sample event of each kind to a configured sink.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteBackend } from "@clearance/server";
import { afterEach, describe, expect, test } from "vitest";
import { root, run } from "./helpers.js";

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe("clearance siem test", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function config(sinks: unknown[]): { dir: string; file: string } {
    const dir = mkdtempSync(join(tmpdir(), "clearance-siem-cli-"));
    dirs.push(dir);
    const file = join(dir, "clearance.yaml");
    writeFileSync(file, JSON.stringify({ rules: { dir: join(root, "rules") }, siem: { sinks } }));
    return { dir, file };
  }

  test("a file sink takes one sample of every kind, rendered in its format", async () => {
    const { dir, file } = config([
      { name: "archive", format: "ecs", transport: { type: "file", dir: "events" } },
    ]);
    const r = await run("siem", "test", "--sink", "archive", "--config", file);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[0]).toBe(
      `Sending ECS samples to sink \`archive\` (file, ${join(dir, "events", "clearance-events.ndjson")})`,
    );
    // three decisions (deny, allow, review), then one of every other kind
    expect(lines.at(-1)).toBe("14 sent, 0 failed");
    const kinds = lines.slice(1, -1).map((l) => l.trim().split(/\s+/)[1]);
    expect(kinds).toEqual([
      "decision",
      "decision",
      "decision",
      "review.opened",
      "review.vote",
      "review.resolved",
      "review.withdrawn",
      "review.expired",
      "exception.created",
      "exception.expired",
      "exception.revoked",
      "ruleset.loaded",
      "ruleset.failed",
      "audit.verify_failed",
    ]);
    const written = readFileSync(join(dir, "events", "clearance-events.ndjson"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: { action: string; id: string } });
    expect(written).toHaveLength(14);
    expect(written.every((e) => e.event.id.startsWith("00000000-0000-7000-8000-"))).toBe(true);
  });

  test("an unreachable receiver: one failure said, nothing more sent, exit 1; --json says so", async () => {
    const port = await closedPort();
    const { file } = config([
      {
        name: "collector",
        format: "cef",
        transport: { type: "syslog", host: "127.0.0.1", port, connectTimeoutMs: 2000 },
      },
    ]);
    const r = await run("siem", "test", "--sink", "collector", "--config", file);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`failed decision`);
    expect(r.out).toContain(`ECONNREFUSED 127.0.0.1:${port} (may succeed later)`);
    expect(r.out.split("\n").at(-1)).toBe(
      "the sink's receiver could not be reached: no other sample was sent",
    );
    const j = await run("siem", "test", "--sink", "collector", "--config", file, "--json");
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out)).toMatchObject({
      sink: "collector",
      sent: 0,
      failed: 1,
      unreachable: true,
      results: [{ kind: "decision", ok: false, retryable: true }],
    });
  });

  test("a sink that is not configured, or a transport that is wrong, is a clear error", async () => {
    const { file } = config([
      { name: "archive", format: "ocsf", transport: { type: "file", dir: "events" } },
    ]);
    const missing = await run("siem", "test", "--sink", "splunk", "--config", file);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(
      "error: no SIEM sink is named `splunk`\nhint: the configuration has `archive`",
    );
    const bad = config([
      { name: "archive", format: "ocsf", transport: { type: "file", directory: "events" } },
    ]);
    const wrong = await run("siem", "test", "--sink", "archive", "--config", bad.file);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/^error: invalid configuration: .*siem\.sinks\[0\]\.transport/);
    // a CA that is not PEM is found when the transport is made: the same kind of error, not a crash
    const notPem = join(bad.dir, "ca.txt");
    writeFileSync(notPem, "not a certificate\n");
    const tls = config([
      { name: "archive", format: "ocsf", transport: { type: "file", dir: "events" } },
      {
        name: "collector",
        format: "cef",
        transport: { type: "syslog", host: "127.0.0.1", port: 6514, tls: { ca: notPem } },
      },
    ]);
    const unreadable = await run("siem", "test", "--sink", "collector", "--config", tls.file);
    expect(unreadable.code).toBe(1);
    expect(unreadable.err).toBe(
      `error: invalid configuration: \`siem.sinks[1].transport\`: key \`tls.ca\` must be PEM text or the path of a PEM file; reading \`${notPem}\` failed: no \`-----BEGIN\` line: not a PEM file\nhint: see docs/siem.md for each transport's keys`,
    );
  });
});

describe("clearance siem dead-letters", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  test("counts per sink, then one sink's letters oldest first with why", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-siem-dl-"));
    dirs.push(dir);
    const db = join(dir, "audit.db");
    const file = join(dir, "clearance.yaml");
    writeFileSync(
      file,
      JSON.stringify({
        rules: { dir: join(root, "rules") },
        audit: { sqlite: { path: db } },
        siem: {
          sinks: [
            { name: "archive", format: "ocsf", transport: { type: "file", dir: "events" } },
            {
              name: "splunk",
              format: "ecs",
              transport: { type: "https", url: "http://127.0.0.1:9" },
            },
          ],
        },
      }),
    );
    const store = new SqliteBackend({ path: db, synchronous: "normal" });
    await store.open();
    const letter = (seq: number, error: string) => ({
      sink: "splunk",
      eventId: `0193a5f0-0000-7000-8000-00000000000${seq}`,
      chain: "main",
      seq,
      kind: "decision",
      time: `2026-12-05T01:00:0${seq}.000Z`,
      body: "{}",
      error,
      createdAt: "2026-12-05T02:00:00.000Z",
    });
    await store.outbox.deadLetter([
      letter(2, "https 127.0.0.1:9: the receiver answered 400: bad event"),
      letter(1, "undelivered for longer than deadLetterAfter: refused"),
    ]);
    await store.close();

    const counts = await run("siem", "dead-letters", "--config", file);
    expect(counts.code).toBe(0);
    expect(counts.out).toBe(`${"archive".padEnd(24)} 0\n${"splunk".padEnd(24)} 2`);
    const list = await run("siem", "dead-letters", "--config", file, "--sink", "splunk");
    expect(list.out.split("\n")).toEqual([
      "2026-12-05T01:00:01.000Z decision             0193a5f0-0000-7000-8000-000000000001 main:1",
      "  undelivered for longer than deadLetterAfter: refused",
      "2026-12-05T01:00:02.000Z decision             0193a5f0-0000-7000-8000-000000000002 main:2",
      "  https 127.0.0.1:9: the receiver answered 400: bad event",
    ]);
    const json = await run(
      "siem",
      "dead-letters",
      "--config",
      file,
      "--sink",
      "splunk",
      "--json",
      "-n",
      "1",
    );
    expect(JSON.parse(json.out)).toEqual([
      letter(1, "undelivered for longer than deadLetterAfter: refused"),
    ]);
    const none = await run("siem", "dead-letters", "--config", file, "--sink", "archive");
    expect(none.out).toBe("sink `archive` has set nothing aside");
  });
});
