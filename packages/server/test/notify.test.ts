import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { NOTIFICATION_HEADERS } from "../src/notify.js";
import { example, makeApp, type TestApp, tempDir, waitFor } from "./helpers.js";

const SECRET = "notify-secret-0123456789";

interface Received {
  delivery: string;
  timestamp: string;
  signature: string;
  body: { event: string; decision: { decisionId: string; decision: string; rule: string } };
  raw: string;
}

/** A receiver on loopback that answers 503 to the first `failFirst` requests (an outage). */
async function receiver(failFirst = 0, port = 0) {
  const acked: Received[] = [];
  let requests = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    let raw = "";
    req.on("data", (d) => {
      raw += d;
    });
    req.on("end", () => {
      requests++;
      if (requests <= failFirst) {
        res.writeHead(503).end();
        return;
      }
      acked.push({
        delivery: String(req.headers[NOTIFICATION_HEADERS.delivery]),
        timestamp: String(req.headers[NOTIFICATION_HEADERS.timestamp]),
        signature: String(req.headers[NOTIFICATION_HEADERS.signature]),
        body: JSON.parse(raw),
        raw,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    port: (server.address() as { port: number }).port,
    acked,
    requests: () => requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const fast = { retry: { baseDelayMs: 10, maxDelayMs: 40 }, pollMs: 20 };

describe("decision notifications", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  async function decide(t: TestApp, name: string) {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result: example(name) },
    });
    expect(res.statusCode).toBe(200);
    return res.json() as { decisionId: string; decision: string };
  }

  test("a receiver down for a while gets every configured decision once, signed", async () => {
    const r = await receiver(5);
    cleanups.push(r.close);
    const t = await makeApp({
      notifications: {
        ...fast,
        targets: [{ id: "siem", url: r.url, secret: SECRET, decisions: ["deny"] }],
      },
    });
    cleanups.push(() => t.close());
    const answers = [];
    for (const name of [
      "malware",
      "signed-microsoft",
      "ransomware",
      "unsigned-lowscore",
      "malware",
    ])
      answers.push(await decide(t, name));
    const denied = answers.filter((a) => a.decision === "deny").map((a) => a.decisionId);
    expect(denied.length).toBeGreaterThanOrEqual(2);

    await waitFor(() => r.acked.length >= denied.length, 10_000, "every deny delivered");
    // after every acknowledgement the outbox is empty and nothing is sent again
    const requestsAfter = r.requests();
    await new Promise((res) => setTimeout(res, 200));
    expect(r.requests()).toBe(requestsAfter);
    expect(r.acked.map((a) => a.body.decision.decisionId).sort()).toEqual([...denied].sort());
    expect(new Set(r.acked.map((a) => a.delivery)).size).toBe(denied.length);
    for (const a of r.acked) {
      expect(a.delivery).toBe(`${a.body.decision.decisionId}:siem`);
      const expected = `sha256=${createHmac("sha256", SECRET).update(`${a.timestamp}.${a.raw}`).digest("hex")}`;
      expect(a.signature).toBe(expected);
      expect(a.body.event).toBe("decision.recorded");
      expect(a.body.decision.decision).toBe("deny");
    }
    expect(await t.services.audit.store.outbox.pendingNotifications(t.config.audit.chain)).toBe(0);
    const metrics = (await t.app.inject({ url: "/metrics" })).body;
    expect(metrics).toMatch(/clearance_notifications_total\{target="siem",result="failed"\} [1-9]/);
    expect(metrics).toMatch(
      new RegExp(
        `clearance_notifications_total\\{target="siem",result="delivered"\\} ${denied.length}`,
      ),
    );
    expect(metrics).toMatch(/clearance_outbox_pending 0/);
  });

  test("notifications queued before a restart are sent after it", async () => {
    const tmp = tempDir();
    cleanups.push(async () => tmp.remove());
    const db = join(tmp.dir, "audit.db");
    // reserve a port, then leave it closed: the receiver is down during the first run
    const probe = await receiver();
    const port = probe.port;
    await probe.close();
    const url = `http://127.0.0.1:${port}/hook`;
    const config = {
      audit: { sqlite: { path: db } },
      notifications: {
        ...fast,
        targets: [{ id: "chat", url, decisions: ["deny" as const, "review" as const] }],
      },
    };
    const first = await makeApp(config);
    const a = await decide(first, "malware");
    const b = await decide(first, "unsigned-lowscore");
    expect(
      await first.services.audit.store.outbox.pendingNotifications(first.config.audit.chain),
    ).toBe(2);
    await first.app.close();
    await first.services.close();

    const r = await receiver(0, port);
    cleanups.push(r.close);
    const second = await makeApp(config);
    cleanups.push(() => second.close());
    await waitFor(() => r.acked.length >= 2, 10_000, "delivery after restart");
    expect(r.acked.map((x) => x.body.decision.decisionId).sort()).toEqual(
      [a.decisionId, b.decisionId].sort(),
    );
    expect(r.acked[0]!.signature).toBe("undefined");
  });

  test("targets are validated: unknown keys, bad URLs and duplicate ids are refused", async () => {
    const { resolveConfig, ConfigError } = await import("../src/config.js");
    const bad = (targets: unknown[]) => {
      try {
        resolveConfig({ notifications: { targets } });
      } catch (error) {
        if (error instanceof ConfigError) return error.message;
      }
      return "";
    };
    expect(bad([{ id: "a", url: "ftp://x" }])).toContain("`notifications.targets[0].url`");
    expect(bad([{ id: "a", url: "http://x", level: 1 }])).toContain(
      "unknown key `notifications.targets[0].level`",
    );
    expect(
      bad([
        { id: "a", url: "http://x" },
        { id: "a", url: "http://y" },
      ]),
    ).toContain("`a` is used twice");
    const ok = resolveConfig({ notifications: { targets: [{ id: "a", url: "http://x" }] } });
    expect(ok.notifications.targets[0]).toEqual({
      id: "a",
      url: "http://x",
      secret: null,
      decisions: ["allow", "deny", "review"],
      sources: [],
      timeoutMs: 5000,
    });
  });
});
