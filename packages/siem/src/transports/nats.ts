// NATS JetStream: each event published to a subject with its id as `Nats-Msg-Id`, so a stream
// drops a resend inside its duplicate window. A batch counts as delivered once JetStream has
// acknowledged (PubAck) every event of it: stored in the stream, or recognised as a duplicate.
// Publishes are pipelined on the one connection (which keeps their order) and their PubAcks
// awaited together.

import { type Static, Type } from "@clearance/options";
import {
  connect,
  ErrorCode,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  NatsError,
  nanos,
  headers as natsHeaders,
  type PubAck,
} from "nats";
import { DeliveryError, type OutgoingEvent, type Transport } from "../transport.js";
import { at, Nullable, resolveTransportOptions, Section } from "./options.js";
import { abortMessage, Serial } from "./serial.js";

// a subject's tokens: no spaces, wildcards or empty tokens; `{kind}` is filled in per event
const SUBJECT = "^([A-Za-z0-9_$:{}-]+)(\\.[A-Za-z0-9_$:{}-]+)*$";
const STREAM_NAME = "^[A-Za-z0-9_-]{1,255}$";

export const NatsTransportOptionsSchema = Section({
  type: Type.Literal("nats"),
  /** `nats://host:port` or `host:port`; several for a cluster */
  servers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  user: Nullable(Type.String({ minLength: 1 })),
  /** a secret, never shown in messages */
  password: Nullable(Type.String({ minLength: 1 })),
  /** a secret, never shown in messages */
  token: Nullable(Type.String({ minLength: 1 })),
  /** where events go; `{kind}` is replaced by the event kind (`clearance.events.{kind}`) */
  subject: Type.String({ pattern: SUBJECT }),
  /** publish only if the subject is stored by this stream (JetStream's expected-stream check) */
  streamName: Nullable(Type.String({ pattern: STREAM_NAME })),
  /** a stream to create when none by this name exists */
  createStream: Nullable(
    Section({
      name: Type.String({ pattern: STREAM_NAME }),
      subjects: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
      /** how long the stream keeps a message; 0 keeps them until other limits apply */
      maxAgeMs: Type.Integer({ minimum: 0, default: 0 }),
    }),
  ),
  /** how long to wait for each PubAck */
  ackTimeoutMs: Type.Integer({ minimum: 1, default: 10_000 }),
  connectTimeoutMs: Type.Integer({ minimum: 1, default: 10_000 }),
});

export type NatsTransportOptions = Static<typeof NatsTransportOptionsSchema>;

export function parseNatsTransportOptions(
  value: unknown,
  path: string,
): Readonly<NatsTransportOptions> {
  const options = resolveTransportOptions(NatsTransportOptionsSchema, value, path);
  if ((options.user === null) !== (options.password === null))
    throw new TypeError(
      `keys \`${at(path, "user")}\` and \`${at(path, "password")}\` go together: give both or neither`,
    );
  if (options.token !== null && options.user !== null)
    throw new TypeError(
      `keys \`${at(path, "token")}\` and \`${at(path, "user")}\` exclude each other: authenticate with one`,
    );
  if (options.subject.replaceAll("{kind}", "").match(/[{}]/))
    throw new TypeError(
      `key \`${at(path, "subject")}\` may hold only the placeholder \`{kind}\`, got \`${options.subject}\``,
    );
  return options;
}

/** JetStream API error 10060: the subject's stream is not the one `expect.streamName` names. */
const EXPECTED_STREAM_MISMATCH = 10060;

export interface NatsTransport extends Transport {
  /** events JetStream acknowledged as duplicates (already stored by id): resends it absorbed */
  readonly duplicates: number;
}

export function createNatsTransport(input: NatsTransportOptions): NatsTransport {
  const options = parseNatsTransportOptions(input, "");
  const target = options.servers.map((s) => (s.includes("://") ? s : `nats://${s}`)).join(",");
  const name = `nats ${target}`;
  const serial = new Serial();
  let connection: NatsConnection | null = null;
  let jetstream: JetStreamClient | null = null;
  let closed = false;
  let duplicates = 0;

  const subjectOf = (event: OutgoingEvent) => options.subject.replaceAll("{kind}", event.kind);

  async function open(): Promise<JetStreamClient> {
    if (connection !== null && !connection.isClosed() && jetstream !== null) return jetstream;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: [...options.servers],
        timeout: options.connectTimeoutMs,
        name: "clearance-siem",
        ...(options.user === null ? {} : { user: options.user, pass: options.password ?? "" }),
        ...(options.token === null ? {} : { token: options.token }),
        // once connected the client reconnects by itself; publishes wait for it until ackTimeoutMs
        reconnect: true,
        maxReconnectAttempts: -1,
      });
    } catch (error) {
      const auth = error instanceof NatsError && error.code === ErrorCode.AuthorizationViolation;
      throw new DeliveryError(
        `${name}: connect failed: ${(error as Error).message}${auth ? " (check user, password or token)" : ""}`,
        !auth,
        { cause: error, sinkWide: auth },
      );
    }
    // kept before the stream check, so a failure there closes this connection (dropConnection)
    connection = nc;
    if (options.createStream !== null) await ensureStream(await nc.jetstreamManager(), nc);
    jetstream = nc.jetstream();
    return jetstream;
  }

  async function ensureStream(jsm: JetStreamManager, nc: NatsConnection): Promise<void> {
    const wanted = options.createStream;
    if (wanted === null) return;
    try {
      await jsm.streams.info(wanted.name);
    } catch (error) {
      if (!(error instanceof NatsError) || error.api_error?.err_code !== 10059) {
        await nc.close();
        throw new DeliveryError(
          `${name}: looking up stream ${wanted.name} failed: ${(error as Error).message}`,
          true,
          {
            cause: error,
          },
        );
      }
      try {
        await jsm.streams.add({
          name: wanted.name,
          subjects: [...wanted.subjects],
          max_age: nanos(wanted.maxAgeMs),
        });
      } catch (addError) {
        await nc.close();
        throw new DeliveryError(
          `${name}: creating stream ${wanted.name} failed: ${(addError as Error).message}`,
          false,
          { cause: addError, sinkWide: true },
        );
      }
    }
  }

  async function dropConnection(): Promise<void> {
    const nc = connection;
    connection = null;
    jetstream = null;
    if (nc !== null && !nc.isClosed()) await nc.close().catch(() => undefined);
  }

  /** Why a publish failed, and whether sending again can help. */
  async function explain(error: unknown, subject: string): Promise<DeliveryError> {
    if (error instanceof NatsError && error.api_error?.err_code === EXPECTED_STREAM_MISMATCH)
      return new DeliveryError(
        `${name}: subject ${subject} is not stored by stream ${options.streamName} (\`streamName\`)`,
        false,
        { cause: error, sinkWide: true },
      );
    if (error instanceof NatsError && error.code === ErrorCode.NoResponders && connection) {
      // no responders: either no stream stores the subject, or JetStream is not answering now
      try {
        await (await connection.jetstreamManager()).streams.find(subject);
      } catch (findError) {
        if ((findError as Error).message.includes("no stream matches subject"))
          return new DeliveryError(
            `${name}: no JetStream stream stores subject ${subject}; create one that does (or set \`createStream\`)`,
            false,
            { cause: error, sinkWide: true },
          );
      }
    }
    return new DeliveryError(
      `${name}: publish to ${subject} failed: ${(error as Error).message}`,
      true,
      {
        cause: error,
      },
    );
  }

  return {
    type: "nats",
    target,
    get duplicates() {
      return duplicates;
    },
    send(batch, signal) {
      return serial.run(async () => {
        if (closed) throw new DeliveryError(`${name}: transport is closed`, true);
        if (signal.aborted) throw new DeliveryError(`${name}: ${abortMessage(signal)}`, true);
        if (batch.length === 0) return;
        const js = await open().catch(async (error: unknown) => {
          // anything not yet classified (JetStream disabled on the server, a lost connection while
          // setting up) may pass later
          await dropConnection();
          if (error instanceof DeliveryError) throw error;
          throw new DeliveryError(`${name}: ${(error as Error).message}`, true, { cause: error });
        });
        const encoder = new TextEncoder();
        const acks = batch.map((event) => {
          const h = natsHeaders();
          h.set("Clearance-Event-Kind", event.kind);
          return js.publish(subjectOf(event), encoder.encode(event.body), {
            msgID: event.id,
            timeout: options.ackTimeoutMs,
            headers: h,
            ...(options.streamName === null ? {} : { expect: { streamName: options.streamName } }),
          });
        });
        const settled = await Promise.allSettled(acks);
        for (const [i, outcome] of settled.entries())
          if (outcome.status === "rejected") {
            const error = await explain(outcome.reason, subjectOf(batch[i] as OutgoingEvent));
            // A connection that lost a batch starts afresh on the next send: while the client
            // reconnects it buffers every publish, and an hour of retried batches would pile up
            // in memory and then flood the stream at once.
            if (error.retryable) await dropConnection();
            throw error;
          }
        for (const outcome of settled)
          if ((outcome as PromiseFulfilledResult<PubAck>).value.duplicate) duplicates++;
      });
    },
    async close() {
      closed = true;
      await serial.run(async () => {
        const nc = connection;
        connection = null;
        jetstream = null;
        // drain: what was published is flushed before the connection closes
        if (nc !== null && !nc.isClosed()) await nc.drain().catch(() => nc.close());
      });
    },
  };
}
