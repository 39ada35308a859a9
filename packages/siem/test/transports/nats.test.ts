// The NATS JetStream transport against the real NATS at 127.0.0.1:4222, a stream of its own per
// test (deleted afterwards): every event stored in order under its id, a resend deduplicated by
// the stream, a missing stream a final error, a server that is down a retryable one.

import { randomUUID } from "node:crypto";
import { connect, type JetStreamManager, type NatsConnection, nanos, StringCodec } from "nats";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DeliveryError, type NatsTransport, type Transport } from "../../src/index.js";
import { createTransport, parseTransportOptions } from "../../src/transports/index.js";
import { freePort, listening, NEVER, outgoingEvents, serviceMissing, TcpRelay } from "./helpers.js";

const NATS = "127.0.0.1:4222";

const missing = serviceMissing(
  (await listening(4222)) ? null : `no NATS server listens on ${NATS} (start nats-server -js)`,
);

describe.skipIf(missing !== null)(`nats${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const streams: string[] = [];
  const transports: Transport[] = [];

  /** A stream and subject prefix for one test only. */
  async function freshStream(create = true): Promise<{ stream: string; prefix: string }> {
    const id = randomUUID().replaceAll("-", "").slice(0, 12);
    const stream = `CLEARANCE_TEST_${id}`;
    const prefix = `clearance-test.${id}`;
    if (create) {
      await jsm.streams.add({
        name: stream,
        subjects: [`${prefix}.>`],
        duplicate_window: nanos(60_000),
      });
      streams.push(stream);
    }
    return { stream, prefix };
  }

  const nats = (over: Record<string, unknown>) => {
    const transport = createTransport(
      parseTransportOptions({ type: "nats", servers: [NATS], ...over }, "siem.sinks[3]"),
    ) as NatsTransport;
    transports.push(transport);
    return transport;
  };

  async function stored(
    stream: string,
  ): Promise<{ subject: string; id: string | undefined; body: string }[]> {
    const info = await jsm.streams.info(stream);
    const out = [];
    for (
      let seq = info.state.first_seq;
      seq <= info.state.last_seq && info.state.messages > 0;
      seq++
    ) {
      const message = await jsm.streams.getMessage(stream, { seq });
      out.push({
        subject: message.subject,
        id: message.header.get("Nats-Msg-Id") || undefined,
        body: StringCodec().decode(message.data),
      });
    }
    return out;
  }

  beforeAll(async () => {
    nc = await connect({ servers: NATS });
    jsm = await nc.jetstreamManager();
  });
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
    await nc?.close();
  });

  it("stores every event in order, on its kind's subject, under its id", async () => {
    const { stream, prefix } = await freshStream();
    const transport = nats({ subject: `${prefix}.{kind}`, streamName: stream });
    expect(transport.target).toBe(`nats://${NATS}`);
    const events = outgoingEvents();
    await transport.send(events, NEVER);
    expect(await stored(stream)).toEqual(
      events.map((e) => ({ subject: `${prefix}.${e.kind}`, id: e.id, body: e.body })),
    );
    expect(transport.duplicates).toBe(0);
  });

  it("lets the stream drop a resend of the same batch (PubAck duplicate)", async () => {
    const { stream, prefix } = await freshStream();
    const transport = nats({ subject: `${prefix}.events` });
    const events = outgoingEvents();
    await transport.send(events, NEVER);
    await transport.send(events, NEVER);
    // a restarted server resends with a new transport: the stream still knows the ids
    const restarted = nats({ subject: `${prefix}.events` });
    await restarted.send(events.slice(0, 3), NEVER);
    expect((await jsm.streams.info(stream)).state.messages).toBe(events.length);
    expect(transport.duplicates).toBe(events.length);
    expect(restarted.duplicates).toBe(3);
  });

  it("creates the stream it is told to when it is missing", async () => {
    const { stream, prefix } = await freshStream(false);
    streams.push(stream);
    const transport = nats({
      subject: `${prefix}.{kind}`,
      createStream: { name: stream, subjects: [`${prefix}.>`], maxAgeMs: 3_600_000 },
    });
    const events = outgoingEvents().slice(0, 3);
    await transport.send(events, NEVER);
    const info = await jsm.streams.info(stream);
    expect(info.state.messages).toBe(3);
    expect(info.config.max_age).toBe(nanos(3_600_000));
  });

  it.each([
    {
      name: "no stream stores the subject",
      options: (prefix: string, _stream: string) => ({ subject: `${prefix}-nostream.{kind}` }),
      says: (prefix: string) => `no JetStream stream stores subject ${prefix}-nostream.decision`,
    },
    {
      name: "the subject's stream is not the expected one",
      options: (prefix: string, _stream: string) => ({
        subject: `${prefix}.x`,
        streamName: "CLEARANCE_TEST_OTHER",
      }),
      says: (prefix: string) => `subject ${prefix}.x is not stored by stream CLEARANCE_TEST_OTHER`,
    },
  ])("fails for good when $name", async ({ options, says }) => {
    const { stream, prefix } = await freshStream();
    const error = await nats(options(prefix, stream))
      .send(outgoingEvents().slice(0, 2), NEVER)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).retryable).toBe(false);
    expect((error as Error).message).toContain(says(prefix));
  });

  it("fails retryably while the server is unreachable, then delivers each event once", async () => {
    const { stream, prefix } = await freshStream();
    const relay = new TcpRelay(4222);
    await relay.start();
    try {
      const transport = nats({
        servers: [`127.0.0.1:${relay.port}`],
        subject: `${prefix}.{kind}`,
        ackTimeoutMs: 500,
      });
      const [first, second] = [outgoingEvents(), outgoingEvents()];
      await transport.send(first, NEVER);
      await relay.stop();
      for (let i = 0; i < 3; i++) {
        const error = await transport.send(second, NEVER).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DeliveryError);
        expect((error as DeliveryError).retryable).toBe(true);
      }
      await relay.start();
      await transport.send(second, NEVER);
      expect((await stored(stream)).map((m) => m.id)).toEqual(
        [...first, ...second].map((e) => e.id),
      );
    } finally {
      await relay.stop();
    }
  });

  it("fails retryably when the server is down", async () => {
    const port = await freePort();
    const error = await nats({
      servers: [`127.0.0.1:${port}`],
      subject: "clearance.events.{kind}",
      connectTimeoutMs: 2000,
    })
      .send(outgoingEvents().slice(0, 1), NEVER)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).retryable).toBe(true);
    expect((error as Error).message).toContain(`nats://127.0.0.1:${port}`);
  });
});
