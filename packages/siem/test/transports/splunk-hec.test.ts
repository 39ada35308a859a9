// The Splunk HEC transport against a loopback receiver that speaks HEC's protocol as Splunk's
// documentation gives it: `Authorization: Splunk <token>`, concatenated event objects, answers
// `{"text", "code"}` with HEC's codes, and for tokens with indexer acknowledgement a required
// channel, an `ackId` per request, and /services/collector/ack reporting ids once "indexed".

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DeliveryError, type Transport } from "../../src/index.js";
import { createTransport, parseTransportOptions } from "../../src/transports/index.js";
import { NEVER, outgoingEvents } from "./helpers.js";

const TOKEN = "6d7a0b8e-1c2f-4e5a-9b3c-0d1e2f3a4b5c";
const ACK_TOKEN = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Mode = "normal" | "busy" | "too-many" | "drop-acks" | "reject-data" | "reset-channels";

interface Indexed {
  channel: string | null;
  event: Record<string, unknown>;
}

/** Splits HEC's body of concatenated JSON objects (whitespace between them allowed). */
function splitObjects(body: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}") {
      if (--depth === 0) out.push(JSON.parse(body.slice(start, i + 1)));
    } else if (depth === 0 && !/\s/.test(c ?? "")) throw new Error(`stray ${c}`);
  }
  if (depth !== 0 || inString) throw new Error("unterminated");
  return out;
}

class HecReceiver {
  mode: Mode = "normal";
  ackDelayMs = 200;
  indexed: Indexed[] = [];
  /** per channel: the next ack id, and the ids already indexed */
  channels = new Map<string, { next: number; done: Set<number> }>();
  ackPolls = 0;
  server: Server;
  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.mode = "normal";
    this.ackDelayMs = 200;
    this.indexed = [];
    this.channels.clear();
    this.ackPolls = 0;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const answer = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    const url = new URL(req.url ?? "/", "http://x");
    const auth = req.headers.authorization;
    if (auth === undefined) return answer(401, { text: "Token is required", code: 2 });
    const token = /^Splunk (.+)$/.exec(auth)?.[1];
    if (token !== TOKEN && token !== ACK_TOKEN)
      return answer(403, { text: "Invalid token", code: 4 });
    const acks = token === ACK_TOKEN;
    if (this.mode === "busy") return answer(503, { text: "Server is busy", code: 9 });
    if (this.mode === "too-many") return answer(429, { text: "Too many requests" });
    const channel =
      (req.headers["x-splunk-request-channel"] as string | undefined) ??
      url.searchParams.get("channel");
    if (acks) {
      if (!channel) return answer(400, { text: "Data channel is missing", code: 10 });
      if (!GUID.test(channel) || this.mode === "reset-channels")
        return answer(400, { text: "Invalid data channel", code: 11 });
    }
    if (url.pathname === "/services/collector/ack") {
      if (!acks) return answer(400, { text: "ACK is disabled", code: 14 });
      this.ackPolls++;
      const ids = (JSON.parse(body) as { acks: number[] }).acks;
      const state = this.channels.get(channel as string);
      return answer(200, {
        acks: Object.fromEntries(ids.map((id) => [String(id), state?.done.has(id) ?? false])),
      });
    }
    if (url.pathname !== "/services/collector/event")
      return answer(404, { text: "Not Found", code: 404 });
    let events: unknown[];
    try {
      events = splitObjects(body);
    } catch {
      return answer(400, { text: "Invalid data format", code: 6 });
    }
    if (events.length === 0) return answer(400, { text: "No data", code: 5 });
    if (this.mode === "reject-data")
      return answer(400, { text: "Invalid data format", code: 6, "invalid-event-number": 0 });
    for (const event of events as Record<string, unknown>[]) {
      if (!("event" in event)) return answer(400, { text: "Event field is required", code: 12 });
      if (event.event === "" || event.event === null)
        return answer(400, { text: "Event field cannot be blank", code: 13 });
    }
    for (const event of events)
      this.indexed.push({ channel, event: event as Record<string, unknown> });
    if (!acks) return answer(200, { text: "Success", code: 0 });
    const state = this.channels.get(channel as string) ?? { next: 0, done: new Set<number>() };
    this.channels.set(channel as string, state);
    const ackId = state.next++;
    if (this.mode !== "drop-acks") setTimeout(() => state.done.add(ackId), this.ackDelayMs);
    return answer(200, { text: "Success", code: 0, ackId });
  }
}

describe("splunk-hec", () => {
  const receiver = new HecReceiver();
  const transports: Transport[] = [];
  const hec = (over: Record<string, unknown> = {}) => {
    const transport = createTransport(
      parseTransportOptions(
        { type: "splunk-hec", url: receiver.url, token: TOKEN, host: "clearance-1", ...over },
        "siem.sinks[1]",
      ),
    );
    transports.push(transport);
    return transport;
  };

  beforeAll(() => new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", resolve)));
  afterEach(() => receiver.reset());
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await new Promise((resolve) => receiver.server.close(resolve));
  });

  it("sends each event with its time, metadata, parsed JSON body and id", async () => {
    const transport = hec({ index: "security", sourcetype: "clearance:ocsf" });
    expect(transport.target).toBe(receiver.url);
    const events = outgoingEvents("2026-12-05T01:20:34.123Z");
    await transport.send(events, NEVER);
    expect(receiver.indexed.map((i) => i.event)).toEqual(
      events.map((e) => ({
        time: 1796433634.123,
        host: "clearance-1",
        source: "clearance",
        sourcetype: "clearance:ocsf",
        index: "security",
        event: JSON.parse(e.body),
        fields: { event_id: e.id },
      })),
    );
  });

  it("sends a CEF line as a string event, and leaves index out when none is set", async () => {
    const [first] = outgoingEvents();
    const cef = {
      ...first!,
      body: "CEF:0|Clearance|Clearance|0.1.0|decision|File denied|7|fileHash=9f86",
    };
    await hec().send([cef], NEVER);
    expect(receiver.indexed[0]?.event.event).toBe(cef.body);
    expect(receiver.indexed[0]?.event).not.toHaveProperty("index");
  });

  it("with acks, resolves only once the ack id is reported indexed, on one channel", async () => {
    receiver.ackDelayMs = 300;
    const transport = hec({ token: ACK_TOKEN, ack: true, ackPollIntervalMs: 50 });
    const events = outgoingEvents();
    const started = Date.now();
    await transport.send(events.slice(0, 4), NEVER);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(receiver.ackPolls).toBeGreaterThan(1);
    await transport.send(events.slice(4), NEVER);
    const channels = new Set(receiver.indexed.map((i) => i.channel));
    expect(channels.size).toBe(1);
    expect([...channels][0]).toMatch(GUID);
    expect(receiver.channels.get([...channels][0] as string)?.next).toBe(2);
    expect(receiver.indexed.map((i) => i.event.fields)).toEqual(
      events.map((e) => ({ event_id: e.id })),
    );
  });

  it.each([
    {
      name: "server busy (503, code 9)",
      mode: "busy",
      over: {},
      retryable: true,
      says: "503 code 9",
    },
    { name: "too many requests (429)", mode: "too-many", over: {}, retryable: true, says: "429" },
    {
      name: "acks that never come",
      mode: "drop-acks",
      over: { token: ACK_TOKEN, ack: true, ackTimeoutMs: 300, ackPollIntervalMs: 50 },
      retryable: true,
      says: "not reported indexed within 300 ms",
    },
    {
      name: "an invalid channel (code 11)",
      mode: "reset-channels",
      over: { token: ACK_TOKEN, ack: true },
      retryable: true,
      says: "new channel",
    },
    {
      name: "an invalid token (403, code 4)",
      mode: "normal",
      over: { token: "wrong-token-value-123" },
      retryable: false,
      says: "403 code 4",
    },
    {
      name: "invalid data format (400, code 6)",
      mode: "reject-data",
      over: {},
      retryable: false,
      says: "400 code 6",
    },
    {
      name: "ack on for a token without it (no ackId)",
      mode: "normal",
      over: { ack: true },
      retryable: false,
      says: "without an ackId",
    },
  ] as const)("fails on $name, retryable: $retryable", async ({ mode, over, retryable, says }) => {
    receiver.mode = mode;
    const error = await hec(over)
      .send(outgoingEvents().slice(0, 2), NEVER)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).retryable).toBe(retryable);
    expect((error as Error).message).toContain(says);
    expect((error as Error).message).not.toContain("token-value");
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it("takes a new channel after HEC called the old one invalid", async () => {
    receiver.mode = "reset-channels";
    const transport = hec({ token: ACK_TOKEN, ack: true, ackPollIntervalMs: 50 });
    await expect(transport.send(outgoingEvents().slice(0, 1), NEVER)).rejects.toThrow(
      DeliveryError,
    );
    receiver.mode = "normal";
    await transport.send(outgoingEvents().slice(0, 1), NEVER);
    expect(receiver.indexed).toHaveLength(1);
  });

  it("fails retryably when nothing listens", async () => {
    const transport = hec({ url: "http://127.0.0.1:9" });
    const error = await transport
      .send(outgoingEvents().slice(0, 1), NEVER)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).retryable).toBe(true);
  });
});
