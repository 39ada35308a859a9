// The rotating NDJSON file transport on a temporary directory: lines appended and synced before a
// send resolves, rotation by size and by age into names that sort in time order, retention, a
// restart appending to the file it finds, and a failed sync leaving no torn line behind.

import { mkdtemp, open, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeliveryError, type OutgoingEvent, type Transport } from "../../src/index.js";
import { createTransport, parseTransportOptions } from "../../src/transports/index.js";
import { NEVER, outgoingEvents } from "./helpers.js";

const ROTATED = /^events-\d{8}T\d{6}\.\d{3}Z-\d{3}\.ndjson$/;

describe("file", () => {
  let root: string;
  let dir: string;
  const transports: Transport[] = [];
  const file = (over: Record<string, unknown> = {}) => {
    const transport = createTransport(
      parseTransportOptions({ type: "file", dir, prefix: "events", ...over }, "siem.sinks[4]"),
    );
    transports.push(transport);
    return transport;
  };
  /** Every line of every file, rotated ones first in name order, then the current file. */
  async function allLines(): Promise<string[]> {
    const names = (await readdir(dir)).filter((n) => ROTATED.test(n)).sort();
    const lines: string[] = [];
    for (const name of [...names, "events.ndjson"]) {
      const text = await readFile(join(dir, name), "utf8").catch(() => "");
      if (text !== "") expect(text.endsWith("\n")).toBe(true);
      lines.push(...text.split("\n").filter((l) => l !== ""));
    }
    return lines;
  }
  /** Batches of `size` events, `count` of them, each event a fresh id. */
  const batches = (count: number, size: number): OutgoingEvent[][] =>
    Array.from({ length: count }, () => outgoingEvents().slice(0, size));

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "clearance-file-"));
    dir = join(root, "siem", "out");
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    vi.useRealTimers();
    await Promise.all(transports.splice(0).map((t) => t.close()));
    await rm(root, { recursive: true, force: true });
  });

  it("creates the directory (0750) and file (0640), one line per event, in order", async () => {
    const transport = file();
    expect(transport.target).toBe(join(dir, "events.ndjson"));
    const events = outgoingEvents();
    await transport.send(events.slice(0, 4), NEVER);
    await transport.send(events.slice(4), NEVER);
    expect(await allLines()).toEqual(events.map((e) => e.body));
    expect((await stat(dir)).mode & 0o777).toBe(0o750 & ~process.umask());
    expect((await stat(join(dir, "events.ndjson"))).mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it("syncs the data before a send resolves", async () => {
    const probe = await open(join(root, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    const synced: number[] = [];
    const datasync = proto.datasync;
    vi.spyOn(proto, "datasync").mockImplementation(async function (this: unknown) {
      synced.push((await readFile(join(dir, "events.ndjson"), "utf8")).split("\n").length - 1);
      return datasync.call(this);
    });
    const transport = file();
    await transport.send(outgoingEvents().slice(0, 3), NEVER);
    await transport.send(outgoingEvents().slice(0, 2), NEVER);
    // each sync ran after its batch was written in full
    expect(synced).toEqual([3, 5]);
  });

  it("when the sync fails, fails retryably and cuts the batch off again", async () => {
    const transport = file();
    const kept = outgoingEvents().slice(0, 2);
    await transport.send(kept, NEVER);
    const probe = await open(join(root, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    vi.spyOn(proto, "datasync").mockRejectedValueOnce(
      Object.assign(new Error("EIO: i/o error"), { code: "EIO" }),
    );
    const error = await transport
      .send(outgoingEvents().slice(0, 3), NEVER)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).retryable).toBe(true);
    expect(await allLines()).toEqual(kept.map((e) => e.body));
    // and the next send works on a reopened file
    const next = outgoingEvents().slice(0, 1);
    await transport.send(next, NEVER);
    expect(await allLines()).toEqual([...kept, ...next].map((e) => e.body));
  });

  it("rotates before a batch would pass maxBytes, never splitting a batch", async () => {
    const transport = file({ maxBytes: 4096, keep: 100 });
    const sent = batches(12, 3);
    for (const batch of sent) await transport.send(batch, NEVER);
    const names = (await readdir(dir)).filter((n) => ROTATED.test(n)).sort();
    expect(names.length).toBeGreaterThan(1);
    const batchBytes = Math.max(
      ...sent.map((b) => b.reduce((n, e) => n + Buffer.byteLength(e.body) + 1, 0)),
    );
    for (const name of [...names, "events.ndjson"]) {
      const text = await readFile(join(dir, name), "utf8");
      // a file is over the limit only when one batch alone is
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(Math.max(4096, batchBytes));
      // whole batches: each file holds a multiple of the batch size in lines
      expect(text.split("\n").filter((l) => l !== "").length % 3).toBe(0);
    }
    expect(await allLines()).toEqual(sent.flat().map((e) => e.body));
  });

  it("keeps only the newest `keep` rotated files", async () => {
    const transport = file({ maxBytes: 1024, keep: 2 });
    const sent = batches(6, 1);
    for (const batch of sent) await transport.send(batch, NEVER);
    const names = (await readdir(dir)).filter((n) => ROTATED.test(n)).sort();
    expect(names).toHaveLength(2);
    // what is left is the end of the stream: the two newest rotated files and the current one
    expect(await allLines()).toEqual(
      sent
        .slice(-3)
        .flat()
        .map((e) => e.body),
    );
  });

  it("rotates a file older than rotateEveryMs when the next batch comes", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-12-05T01:00:00.000Z") });
    const transport = file({ rotateEveryMs: 60_000 });
    const [a, b, c] = batches(3, 2);
    await transport.send(a!, NEVER);
    vi.setSystemTime(new Date("2026-12-05T01:00:59.000Z"));
    await transport.send(b!, NEVER);
    vi.setSystemTime(new Date("2026-12-05T01:01:00.500Z"));
    await transport.send(c!, NEVER);
    expect((await readdir(dir)).sort()).toEqual([
      "events-20261205T010100.500Z-000.ndjson",
      "events.ndjson",
    ]);
    expect((await readFile(join(dir, "events.ndjson"), "utf8")).trimEnd().split("\n")).toEqual(
      c!.map((e) => e.body),
    );
  });

  it("numbers rotations within the same millisecond so the names still sort in order", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-12-05T02:00:00.000Z") });
    const transport = file({ maxBytes: 1024, keep: 10 });
    for (const batch of batches(4, 1)) await transport.send(batch, NEVER);
    expect((await readdir(dir)).filter((n) => ROTATED.test(n)).sort()).toEqual([
      "events-20261205T020000.000Z-000.ndjson",
      "events-20261205T020000.000Z-001.ndjson",
      "events-20261205T020000.000Z-002.ndjson",
    ]);
  });

  it("appends to the file it finds after a restart, and counts its size", async () => {
    const before = batches(2, 3);
    const first = file({ maxBytes: 100_000 });
    for (const batch of before) await first.send(batch, NEVER);
    await first.close();
    const after = outgoingEvents().slice(0, 2);
    await file({ maxBytes: 100_000 }).send(after, NEVER);
    expect(await allLines()).toEqual([...before.flat(), ...after].map((e) => e.body));
    // the restarted transport knows the size: the next batch past the limit rotates
    const restarted = file({ maxBytes: (await stat(join(dir, "events.ndjson"))).size + 10 });
    await restarted.send(outgoingEvents().slice(0, 1), NEVER);
    expect((await readdir(dir)).filter((n) => ROTATED.test(n))).toHaveLength(1);
  });

  it("fails when the directory cannot be made", async () => {
    const blocker = join(root, "a-file");
    await (await open(blocker, "w")).close();
    dir = join(blocker, "sub");
    const error = await file()
      .send(outgoingEvents().slice(0, 1), NEVER)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as Error).message).toContain(join(blocker, "sub", "events.ndjson"));
  });
});
