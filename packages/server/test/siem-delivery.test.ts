import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  DeliveryError,
  type Formatter,
  type OutgoingEvent,
  type SiemEvent,
  type Transport,
} from "@clearance/siem";
import { afterEach, describe, expect, test } from "vitest";
import { cursorKey, SiemDelivery, type Sink, type SinkSettings, sinkTakes } from "../src/siem.js";
import { SiemEventSource } from "../src/siem-events.js";
import { example, makeApp, RULES, type TestApp, tempDir, waitFor } from "./helpers.js";

/** The event as JSON: the formats have tests of their own; this one is about delivery. */
const asJson: Formatter = {
  name: "ocsf",
  contentType: "application/json",
  render: (event: SiemEvent) => JSON.stringify(event),
};

/**
 * A receiver in memory: down while `down` is set (each send a retryable failure), refusing for
 * good any batch holding an id in `refuse`, and keeping what it acknowledged.
 */
class MemoryTransport implements Transport {
  readonly type = "memory";
  readonly target = "memory://test";
  readonly acked: OutgoingEvent[] = [];
  readonly batches: number[] = [];
  down = false;
  /** refuses the sink itself (a revoked token): a final error that is not about the events */
  locked = false;
  refuse = new Set<string>();
  sends = 0;
  async send(batch: readonly OutgoingEvent[]): Promise<void> {
    this.sends++;
    if (this.down) throw new DeliveryError("connection refused", true);
    if (this.locked) throw new DeliveryError("invalid token", false, { sinkWide: true });
    const refused = batch.find((e) => this.refuse.has(e.id));
    if (refused) throw new DeliveryError(`event ${refused.id} is malformed`, false);
    this.batches.push(batch.length);
    this.acked.push(...batch);
  }
  async close(): Promise<void> {}
}

const SETTINGS: SinkSettings = {
  name: "memory",
  filter: { kinds: [], decisions: [], rules: [] },
  batch: { maxEvents: 50, maxBytes: 1_048_576, lingerMs: 0 },
  retry: { baseDelayMs: 5, maxDelayMs: 20 },
  deadLetterAfterMs: 60_000,
};

describe("SIEM delivery from the audit log", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  async function app(): Promise<TestApp> {
    const t = await makeApp();
    cleanups.push(() => t.close());
    return t;
  }

  function deliver(
    t: TestApp,
    transport: Transport,
    settings: Partial<SinkSettings> = {},
    clock?: () => number,
    cursorSaveMs = 0,
  ): SiemDelivery {
    const sink: Sink = { settings: { ...SETTINGS, ...settings }, formatter: asJson, transport };
    const delivery = new SiemDelivery(
      [sink],
      t.services.audit,
      new SiemEventSource(t.services.audit, { consoleUrl: "https://clearance.example" }),
      t.services.metrics,
      { pollMs: 20, readLimit: 100, cursorSaveMs, ...(clock ? { clock } : {}) },
    );
    delivery.start();
    cleanups.push(() => delivery.stop());
    return delivery;
  }

  async function decide(t: TestApp, name: string, fileName?: string) {
    const result = { ...example(name), ...(fileName ? { fileName } : {}) };
    const res = await t.app.inject({ method: "POST", url: "/v1/decisions", payload: { result } });
    expect(res.statusCode).toBe(200);
    return res.json() as { decisionId: string; decision: string };
  }

  const events = (m: MemoryTransport) => m.acked.map((e) => JSON.parse(e.body) as SiemEvent);

  test("every entry becomes one event, in chain order, with the entry's id and a link to it", async () => {
    const t = await app();
    const m = new MemoryTransport();
    deliver(t, m);
    const asked = [];
    for (const name of ["malware", "signed-microsoft", "fresh-unknown"])
      asked.push(await decide(t, name));
    await waitFor(() => events(m).filter((e) => e.kind === "decision").length === 3);
    const got = events(m);
    const decisions = got.filter((e) => e.kind === "decision");
    expect(decisions.map((e) => e.id)).toEqual(asked.map((a) => a.decisionId));
    expect(decisions.map((e) => (e as { decision: string }).decision)).toEqual(
      asked.map((a) => a.decision),
    );
    const seqs = got.map((e) => e.entry.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(got.map((e) => e.id)).size).toBe(got.length);
    const first = decisions[0]!;
    expect(first.link).toBe(`https://clearance.example/#/audit/${first.id}`);
    // file facts come from the input snapshot as it was decided
    expect(first).toMatchObject({ file: { sha256: example("malware").sha256 } });
    expect((first as { file: { size: number | null } }).file.size).toBe(
      example("malware").fileSize ?? null,
    );
  });

  test("a receiver down for a while gets everything after it, in order, once", async () => {
    const t = await app();
    const m = new MemoryTransport();
    m.down = true;
    const delivery = deliver(t, m);
    const asked = [];
    for (let i = 0; i < 20; i++)
      asked.push(await decide(t, i % 2 ? "malware" : "fresh-unknown", `f${i}.exe`));
    await waitFor(() => m.sends >= 5, 10_000, "failed attempts");
    const [lag] = await delivery.lag();
    expect(lag!.entries).toBeGreaterThanOrEqual(20);
    expect(lag!.seconds).toBeGreaterThanOrEqual(0);
    expect(m.acked).toEqual([]);
    m.down = false;
    await waitFor(() => events(m).filter((e) => e.kind === "decision").length === 20);
    const ids = events(m)
      .filter((e) => e.kind === "decision")
      .map((e) => e.id);
    expect(ids).toEqual(asked.map((a) => a.decisionId));
    expect((await delivery.lag())[0]).toMatchObject({ entries: 0, seconds: 0 });
    const metrics = await t.services.metrics.registry.getSingleMetricAsString(
      "clearance_siem_send_failures_total",
    );
    expect(metrics).toMatch(/sink="memory",retryable="true"} [1-9]/);
  });

  test("a restart resends nothing the receiver acknowledged (the cursor is saved when caught up and at stop)", async () => {
    const t = await app();
    const m = new MemoryTransport();
    // saves while busy at most every minute: what is saved here is saved by catching up or stopping
    const first = deliver(t, m, {}, undefined, 60_000);
    for (let i = 0; i < 5; i++) await decide(t, "malware", `a${i}.exe`);
    await waitFor(() => events(m).filter((e) => e.kind === "decision").length === 5);
    await first.stop();
    const cursor = await t.services.audit.store.state.get(
      cursorKey("memory", t.services.audit.chain),
    );
    expect(Number(cursor)).toBe(m.acked.length === 0 ? 0 : events(m).at(-1)!.entry.seq);
    const before = m.acked.length;
    for (let i = 0; i < 3; i++) await decide(t, "fresh-unknown", `b${i}.exe`);
    deliver(t, m);
    await waitFor(() => events(m).filter((e) => e.kind === "decision").length === 8);
    const again = events(m).slice(before);
    expect(
      again.every(
        (e) => e.kind !== "decision" || (e as { file: { name: string } }).file.name.startsWith("b"),
      ),
    ).toBe(true);
    expect(new Set(events(m).map((e) => e.id)).size).toBe(m.acked.length);
  });

  test("an event the receiver refuses for good is set aside, and the others go on", async () => {
    const t = await app();
    const m = new MemoryTransport();
    m.down = true;
    deliver(t, m);
    const asked = [];
    for (let i = 0; i < 4; i++) asked.push(await decide(t, "malware", `c${i}.exe`));
    m.refuse.add(asked[1]!.decisionId);
    m.down = false;
    await waitFor(() => events(m).filter((e) => e.kind === "decision").length === 3);
    expect(
      events(m)
        .filter((e) => e.kind === "decision")
        .map((e) => e.id),
    ).toEqual([asked[0], asked[2], asked[3]].map((a) => a!.decisionId));
    const letters = await t.services.audit.store.outbox.deadLetters("memory", 10);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      sink: "memory",
      eventId: asked[1]!.decisionId,
      kind: "decision",
      error: `event ${asked[1]!.decisionId} is malformed`,
    });
    expect(JSON.parse(letters[0]!.body).id).toBe(asked[1]!.decisionId);
    expect((await t.services.audit.store.outbox.deadLetterCounts()).get("memory")).toBe(1);
  });

  test("a receiver that refuses the sink itself is waited for: nothing is set aside", async () => {
    const t = await app();
    const m = new MemoryTransport();
    m.locked = true;
    deliver(t, m);
    const asked = [];
    for (let i = 0; i < 3; i++) asked.push(await decide(t, "malware", `g${i}.exe`));
    await waitFor(() => m.sends >= 4, 10_000, "refused sends");
    expect(await t.services.audit.store.outbox.deadLetters("memory", 10)).toEqual([]);
    m.locked = false;
    await waitFor(() => events(m).filter((e) => e.kind === "decision").length === 3);
    expect(events(m).map((e) => e.id)).toEqual(asked.map((a) => a.decisionId));
  });

  test("events undelivered past deadLetterAfter are set aside and the sink moves on", async () => {
    const t = await app();
    const m = new MemoryTransport();
    m.down = true;
    let now = Date.now();
    deliver(t, m, { deadLetterAfterMs: 60_000 }, () => now);
    const asked = [];
    for (let i = 0; i < 3; i++) asked.push(await decide(t, "fresh-unknown", `d${i}.exe`));
    await waitFor(() => m.sends >= 2);
    now += 61_000;
    const store = t.services.audit.store.outbox;
    let letters = await store.deadLetters("memory", 100);
    const all = () => asked.every((a) => letters.some((l) => l.eventId === a.decisionId));
    for (let i = 0; i < 500 && !all(); i++) {
      await new Promise((r) => setTimeout(r, 20));
      letters = await store.deadLetters("memory", 100);
    }
    expect(letters.map((l) => l.eventId)).toEqual(
      expect.arrayContaining(asked.map((a) => a.decisionId)),
    );
    expect(
      letters.every((l) => l.error.startsWith("undelivered for longer than deadLetterAfter")),
    ).toBe(true);
    m.down = false;
    const later = await decide(t, "malware", "after.exe");
    await waitFor(() => events(m).some((e) => e.id === later.decisionId));
    expect(events(m).map((e) => e.id)).not.toContain(asked[0]!.decisionId);
  });

  test("kinds, decisions and rules filter what a sink takes", async () => {
    const decision = (d: "allow" | "deny" | "review", rule: string | null) =>
      ({ kind: "decision", decision: d, rule }) as unknown as SiemEvent;
    const loaded = { kind: "ruleset.loaded" } as unknown as SiemEvent;
    const cases: [Partial<SinkSettings["filter"]>, SiemEvent, boolean][] = [
      [{}, decision("allow", "x"), true],
      [{ kinds: ["ruleset.loaded"] }, decision("deny", "x"), false],
      [{ kinds: ["ruleset.loaded"] }, loaded, true],
      [{ decisions: ["deny"] }, decision("deny", "x"), true],
      [{ decisions: ["deny"] }, decision("review", null), false],
      [{ decisions: ["deny"] }, loaded, true],
      [{ rules: ["many_*"] }, decision("deny", "many_detections"), true],
      [{ rules: ["many_*"] }, decision("deny", "ransomware_names"), false],
      [{ rules: ["many_*"] }, decision("review", null), false],
      [{ rules: ["a.b"] }, decision("deny", "aXb"), false],
    ];
    for (const [filter, event, taken] of cases)
      expect(sinkTakes({ ...SETTINGS.filter, ...filter })(event), JSON.stringify(filter)).toBe(
        taken,
      );
  });

  test("batches hold at most maxEvents", async () => {
    const t = await app();
    const m = new MemoryTransport();
    m.down = true;
    deliver(t, m, { batch: { maxEvents: 4, maxBytes: 1_048_576, lingerMs: 0 } });
    for (let i = 0; i < 10; i++) await decide(t, "fresh-unknown", `e${i}.exe`);
    m.down = false;
    await waitFor(() => events(m).filter((e) => e.kind === "decision").length === 10);
    expect(Math.max(...m.batches)).toBeLessThanOrEqual(4);
  });
});

describe("the server's own events", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  test("a reload that changes the rules, a refused reload and a failed verification become events", async () => {
    const rules = tempDir("clearance-siem-rules-");
    cleanups.push(() => rules.remove());
    cpSync(RULES, rules.dir, { recursive: true });
    const t = await makeApp({ rules: { dir: rules.dir, watch: false } });
    cleanups.push(() => t.close());
    const m = new MemoryTransport();
    const sink: Sink = { settings: SETTINGS, formatter: asJson, transport: m };
    const delivery = new SiemDelivery(
      [sink],
      t.services.audit,
      new SiemEventSource(t.services.audit, { consoleUrl: null }),
      t.services.metrics,
      { pollMs: 20, readLimit: 100, cursorSaveMs: 0 },
    );
    delivery.start();
    cleanups.push(() => delivery.stop());
    const before = t.services.rules.ruleset.revision;
    // the same files again: no event
    expect(await t.services.rules.reload("api")).toMatchObject({ ok: true, changed: false });
    const file = join(rules.dir, "threats.rules");
    writeFileSync(file, `${readFileSync(file, "utf8")}\n# a comment changes the revision\n`);
    const loaded = await t.services.rules.reload("api");
    expect(loaded).toMatchObject({ ok: true, changed: true });
    writeFileSync(file, `${readFileSync(file, "utf8")}\nrule broken {\n`);
    expect(await t.services.rules.reload("signal")).toMatchObject({ ok: false });
    await t.services.serverEvents.verifyFailed({
      ok: false,
      entries: 3,
      chains: [],
      broken: { chain: "main", seq: 2, id: null, problem: "hash_mismatch" },
    });
    const events = () => m.acked.map((e) => JSON.parse(e.body) as SiemEvent);
    await waitFor(() => events().length === 3);
    const [reload, refused, verify] = events();
    expect(reload).toMatchObject({
      kind: "ruleset.loaded",
      previous: before,
      ruleset: { revision: (loaded as { revision: string }).revision },
      trigger: "api",
    });
    expect(reload).toHaveProperty("rules", t.services.rules.ruleset.rules.length);
    expect(refused).toMatchObject({
      kind: "ruleset.failed",
      trigger: "signal",
      ruleset: { revision: (loaded as { revision: string }).revision },
    });
    expect((refused as { location: string }).location).toMatch(/threats\.rules:\d+:\d+$/);
    expect(verify).toMatchObject({
      kind: "audit.verify_failed",
      chain: "main",
      seq: 2,
      problem: "hash_mismatch",
      message: "entry 2 of chain `main` does not verify: hash mismatch",
    });
    // and they are entries of the chain, which verifies
    const report = await t.services.audit.verify();
    expect(report.ok).toBe(true);
  });
});

describe("reading the chain for sinks", () => {
  /** A log whose chain read returns `seqs` (as a read across kinds' tables can, mid-commit). */
  function source(seqs: number[], checkpoint?: number) {
    const row = (seq: number) => ({ kind: "decision", id: `e${seq}`, chain: "c", seq }) as never;
    const audit = {
      store: {
        entries: {
          chainAfter: async (_chain: string, after: number, limit: number) =>
            seqs
              .filter((s) => s > after)
              .slice(0, limit)
              .map(row),
          checkpoint: async () =>
            checkpoint === undefined ? undefined : { chain: "c", seq: checkpoint },
        },
      },
    } as never;
    return new SiemEventSource(audit, { consoleUrl: null });
  }
  const seqs = async (s: SiemEventSource, after: number) =>
    (await s.entriesAfter("c", after, 100)).map((r) => r.seq);

  test.each([
    ["consecutive entries", [1, 2, 3], 0, undefined, [1, 2, 3]],
    ["a case seen before the decision under it: up to the gap", [1, 2, 4, 5], 0, undefined, [1, 2]],
    ["a gap at the start: nothing yet", [3, 4], 1, undefined, []],
    ["a chain pruned up to a checkpoint starts after it", [11, 12], 0, 10, [11, 12]],
    ["after the checkpoint, gaps still stop the read", [11, 13], 0, 10, [11]],
  ])("%s", async (_what, rows, after, checkpoint, expected) => {
    expect(await seqs(source(rows, checkpoint), after)).toEqual(expected);
  });
});
