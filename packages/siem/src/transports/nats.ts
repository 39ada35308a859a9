// NATS JetStream: each event published to a subject with its id as `Nats-Msg-Id`, so a stream
// drops a resend inside its duplicate window. A batch counts as delivered once JetStream has
// acknowledged (PubAck) every event of it: stored in the stream, or recognised as a duplicate.
// Publishes are pipelined on the one connection (which keeps their order) and their PubAcks
// awaited together. They are made as JetStream's own publish makes them (a core publish with a
// reply subject, the PubAck the reply), but on one reply subscription per connection: the client's
// `js.publish` builds a request and an error with a stack trace per message, which cost as much as
// deciding the file did.

import { type Static, Type } from "@clearance/options";
import {
  connect,
  createInbox,
  ErrorCode,
  type JetStreamManager,
  type Msg,
  type NatsConnection,
  NatsError,
  nanos,
  headers as natsHeaders,
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What JetStream answered one publish. */
type AckOutcome = { kind: "stored"; duplicate: boolean } | AckFailure;
type AckFailure =
  | { kind: "api"; code: number; errCode: number; description: string }
  | { kind: "no-responders" }
  | { kind: "timeout" }
  | { kind: "error"; error: Error };

/** A PubAck as JetStream sends it: the stream and sequence, or an API error. */
function readAck(msg: Msg): AckOutcome {
  if (msg.headers?.hasError && msg.headers.code === 503) return { kind: "no-responders" };
  try {
    const ack = JSON.parse(decoder.decode(msg.data)) as {
      stream?: string;
      duplicate?: boolean;
      error?: { code?: number; err_code?: number; description?: string };
    };
    if (ack.error)
      return {
        kind: "api",
        code: ack.error.code ?? 0,
        errCode: ack.error.err_code ?? 0,
        description: ack.error.description ?? "",
      };
    if (typeof ack.stream === "string")
      return { kind: "stored", duplicate: ack.duplicate === true };
  } catch {}
  return {
    kind: "error",
    error: new Error(`an answer that is not a PubAck: ${decoder.decode(msg.data).slice(0, 200)}`),
  };
}

/**
 * The PubAcks of one connection, on one subscription (`<inbox>.<n>`): each batch asks for as many
 * answers as it publishes, and gets them, or a timeout for those missing, together.
 */
class AckRouter {
  private readonly inbox = createInbox();
  private next = 0;
  private readonly waiting = new Map<number, (outcome: AckOutcome) => void>();

  constructor(nc: NatsConnection) {
    nc.subscribe(`${this.inbox}.*`, {
      callback: (error, msg) => {
        if (error) return;
        const n = Number(msg.subject.slice(this.inbox.length + 1));
        const settle = this.waiting.get(n);
        if (!settle) return;
        this.waiting.delete(n);
        settle(readAck(msg));
      },
    });
  }

  /** Reply subjects for `count` publishes, and their outcomes in order once all are in. */
  expect(
    count: number,
    timeoutMs: number,
  ): { subject(i: number): string; done: Promise<AckOutcome[]> } {
    const first = this.next;
    this.next += count;
    const outcomes: Promise<AckOutcome>[] = [];
    for (let i = 0; i < count; i++)
      outcomes.push(new Promise((resolve) => this.waiting.set(first + i, resolve)));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    const done = Promise.race([Promise.all(outcomes), timedOut]).then(() => {
      clearTimeout(timer);
      const settled: AckOutcome[] = [];
      for (let i = 0; i < count; i++) {
        const settle = this.waiting.get(first + i);
        if (settle) {
          this.waiting.delete(first + i);
          settle({ kind: "timeout" });
        }
      }
      return Promise.all(outcomes).then((all) => settled.concat(all));
    });
    return { subject: (i) => `${this.inbox}.${first + i}`, done };
  }
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
  let acks: AckRouter | null = null;
  let closed = false;
  let duplicates = 0;

  const subjectOf = (event: OutgoingEvent) => options.subject.replaceAll("{kind}", event.kind);

  async function open(): Promise<AckRouter> {
    if (connection !== null && !connection.isClosed() && acks !== null) return acks;
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
    acks = new AckRouter(nc);
    return acks;
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
    acks = null;
    if (nc !== null && !nc.isClosed()) await nc.close().catch(() => undefined);
  }

  /** Why a publish failed, and whether sending again can help. */
  async function explain(failure: AckFailure, subject: string): Promise<DeliveryError> {
    if (failure.kind === "api" && failure.errCode === EXPECTED_STREAM_MISMATCH)
      return new DeliveryError(
        `${name}: subject ${subject} is not stored by stream ${options.streamName} (\`streamName\`)`,
        false,
        { sinkWide: true },
      );
    if (failure.kind === "no-responders" && connection) {
      // no responders: either no stream stores the subject, or JetStream is not answering now
      try {
        await (await connection.jetstreamManager()).streams.find(subject);
      } catch (findError) {
        if ((findError as Error).message.includes("no stream matches subject"))
          return new DeliveryError(
            `${name}: no JetStream stream stores subject ${subject}; create one that does (or set \`createStream\`)`,
            false,
            { cause: findError, sinkWide: true },
          );
      }
    }
    const said =
      failure.kind === "api"
        ? `JetStream answered ${failure.code} (${failure.errCode}: ${failure.description})`
        : failure.kind === "no-responders"
          ? "no responders (JetStream did not answer)"
          : failure.kind === "timeout"
            ? `no PubAck within ${options.ackTimeoutMs} ms`
            : failure.error.message;
    return new DeliveryError(`${name}: publish to ${subject} failed: ${said}`, true, {
      ...(failure.kind === "error" ? { cause: failure.error } : {}),
    });
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
        const router = await open().catch(async (error: unknown) => {
          // anything not yet classified (JetStream disabled on the server, a lost connection while
          // setting up) may pass later
          await dropConnection();
          if (error instanceof DeliveryError) throw error;
          throw new DeliveryError(`${name}: ${(error as Error).message}`, true, { cause: error });
        });
        const nc = connection as NatsConnection;
        const replies = router.expect(batch.length, options.ackTimeoutMs);
        for (const [i, event] of batch.entries()) {
          const h = natsHeaders();
          h.set("Nats-Msg-Id", event.id);
          h.set("Clearance-Event-Kind", event.kind);
          if (options.streamName !== null) h.set("Nats-Expected-Stream", options.streamName);
          nc.publish(subjectOf(event), encoder.encode(event.body), {
            reply: replies.subject(i),
            headers: h,
          });
        }
        const outcomes = await replies.done;
        for (const [i, outcome] of outcomes.entries()) {
          if (outcome.kind === "stored") {
            if (outcome.duplicate) duplicates++;
            continue;
          }
          const error = await explain(outcome, subjectOf(batch[i] as OutgoingEvent));
          // A connection that lost a batch starts afresh on the next send: while the client
          // reconnects it buffers every publish, and an hour of retried batches would pile up
          // in memory and then flood the stream at once.
          if (error.retryable) await dropConnection();
          throw error;
        }
      });
    },
    async close() {
      closed = true;
      await serial.run(async () => {
        const nc = connection;
        connection = null;
        acks = null;
        // drain: what was published is flushed before the connection closes
        if (nc !== null && !nc.isClosed()) await nc.drain().catch(() => nc.close());
      });
    },
  };
}
