// SIEM delivery (docs/siem.md, "Delivery"). The audit log is the outbox: every event is an entry
// of this replica's chain, already durable before anything is sent, and each sink keeps a durable
// cursor (the seq of the last entry its receiver acknowledged) in the store's state. Nothing is
// written on the decision path, so a sink costs a decision nothing, and a slow or dead sink only
// lags: its cursor waits while the log goes on.
//
// - At least once: the cursor moves only after the receiver acknowledged a batch, and is saved at
//   most every `cursorSaveMs`, and when delivery stops. A crash sends what was acknowledged since
//   the last save again, with the same event ids.
// - In order: one batch at a time per sink, in chain order, so the events of a file (and of
//   everything else) arrive in the order they were recorded.
// - Backoff: a failed batch is retried, with exponential backoff and full jitter, until it is sent
//   or its oldest event is older than `deadLetterAfter`; then the batch is set aside as dead
//   letters and the sink moves on. A batch the receiver refuses for good (a malformed event, a 400)
//   is sent again one event at a time, and only the events it refuses are set aside. A receiver
//   that refuses the sink itself (a bad token, a missing stream) is waited for like an outage.

import { backoffDelay } from "@clearance/client";
import { parseDuration } from "@clearance/dsl";
import {
  createTransport,
  DeliveryError,
  type Formatter,
  formatter,
  type OutgoingEvent,
  parseTransportOptions,
  pause,
  type SiemEvent,
  type SiemEventKind,
  sampleEvents,
  syslogSeverity,
  type Transport,
} from "@clearance/siem";
import type { DeadLetter, EntryRow } from "./audit/backend.js";
import type { AuditLog } from "./audit/log.js";
import { ConfigError, type ServerConfig } from "./config.js";
import type { Metrics } from "./metrics.js";
import type { SiemEventSource } from "./siem-events.js";

/** Which events a sink takes; an empty list takes everything. */
export interface SinkFilter {
  kinds: readonly SiemEventKind[];
  /** for `decision` events: which answers */
  decisions: readonly ("allow" | "deny" | "review")[];
  /** for `decision` events: deciding rules by name, `*` matching any run of characters */
  rules: readonly string[];
}

export interface SinkSettings {
  name: string;
  filter: SinkFilter;
  /** a batch holds at most this many events and this many bytes of rendered events */
  batch: { maxEvents: number; maxBytes: number; lingerMs: number };
  retry: { baseDelayMs: number; maxDelayMs: number };
  /** an event not delivered after this many milliseconds is set aside */
  deadLetterAfterMs: number;
}

export interface SiemDeliveryOptions {
  /** how often the log is read when no commit wakes delivery */
  pollMs: number;
  /** entries read from the log at a time */
  readLimit: number;
  /** while busy, a sink's cursor is saved at most this often (and always when it is caught up) */
  cursorSaveMs: number;
  clock?: () => number;
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  onError?: (sink: string, error: Error) => void;
}

export interface Sink {
  settings: SinkSettings;
  formatter: Formatter;
  transport: Transport;
}

/**
 * The configured sinks (or only the one named `only`), each with its formatter and its transport,
 * not yet connected. A transport that cannot be made (a CA file that is not PEM) is a ConfigError
 * naming the sink's key, as every other configuration problem is.
 */
export function sinksFrom(configs: ServerConfig["siem"]["sinks"], only?: string): Sink[] {
  const sinks: Sink[] = [];
  for (const [i, c] of configs.entries()) {
    if (only !== undefined && c.name !== only) continue;
    const at = `siem.sinks[${i}].transport`;
    let transport: Transport;
    try {
      transport = createTransport(parseTransportOptions(c.transport, at));
    } catch (error) {
      throw new ConfigError([`\`${at}\`: ${(error as Error).message}`]);
    }
    sinks.push({
      settings: {
        name: c.name,
        filter: { kinds: c.kinds, decisions: c.decisions, rules: c.rules },
        batch: c.batch,
        retry: c.retry,
        deadLetterAfterMs: parseDuration(c.deadLetterAfter)!,
      },
      formatter: formatter(c.format),
      transport,
    });
  }
  return sinks;
}

/** What sending one sample event to a sink came to (`clearance siem test`). */
export interface SampleOutcome {
  kind: SiemEventKind;
  id: string;
  ok: boolean;
  /** why it failed, and whether a retry could help */
  error: string | null;
  retryable: boolean | null;
  ms: number;
}

/**
 * Sends one sample event of each kind to a sink, one at a time, each within `timeoutMs`, and says
 * what happened to each. Sample ids (`00000000-0000-7000-8000-…`) tell them from real events.
 */
export async function* sendSamples(
  sink: Sink,
  options: { now: number; version: string; timeoutMs: number },
): AsyncGenerator<SampleOutcome> {
  for (const event of sampleEvents(new Date(options.now).toISOString(), options.version)) {
    const started = performance.now();
    const outgoing: OutgoingEvent = {
      id: event.id,
      kind: event.kind,
      time: event.time,
      body: sink.formatter.render(event),
      severity: syslogSeverity(event),
    };
    try {
      await sink.transport.send([outgoing], AbortSignal.timeout(options.timeoutMs));
      yield outcome(event, started, null);
    } catch (error) {
      yield outcome(event, started, error as Error);
    }
  }
}

function outcome(event: SiemEvent, started: number, error: Error | null): SampleOutcome {
  return {
    kind: event.kind,
    id: event.id,
    ok: error === null,
    error: error?.message ?? null,
    retryable: error === null ? null : error instanceof DeliveryError ? error.retryable : true,
    ms: Math.round(performance.now() - started),
  };
}

/** The state key of a sink's cursor on a chain. */
export function cursorKey(sink: string, chain: string): string {
  return `siem:${sink}:${chain}`;
}

/** The rule-name patterns of a filter as one test. */
function ruleMatcher(patterns: readonly string[]): (rule: string | null) => boolean {
  if (patterns.length === 0) return () => true;
  const regex = new RegExp(
    `^(?:${patterns.map((p) => p.split("*").map(escapeRegex).join(".*")).join("|")})$`,
  );
  return (rule) => rule !== null && regex.test(rule);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Whether a sink takes an event. */
export function sinkTakes(filter: SinkFilter): (event: SiemEvent) => boolean {
  const kinds = new Set(filter.kinds);
  const decisions = new Set(filter.decisions);
  const rules = ruleMatcher(filter.rules);
  return (event) => {
    if (kinds.size > 0 && !kinds.has(event.kind)) return false;
    if (event.kind !== "decision") return true;
    if (decisions.size > 0 && !decisions.has(event.decision)) return false;
    return rules(event.rule);
  };
}

interface Pending {
  /** the seq of the entry it came from */
  seq: number;
  out: OutgoingEvent;
  bytes: number;
}

/** One sink's delivery from this replica's chain. */
class SinkRunner {
  /** the seq of the last entry acknowledged (or passed over: not for this sink) */
  cursor = 0;
  /** the cursor as last saved, and when */
  private saved = 0;
  private savedAt = 0;
  /** the time of the oldest entry after the cursor, while there is one */
  behindSince: number | null = null;
  private readonly takes: (event: SiemEvent) => boolean;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private running: Promise<void> | null = null;

  constructor(
    readonly sink: Sink,
    private readonly audit: AuditLog,
    private readonly source: SiemEventSource,
    private readonly metrics: Metrics,
    private readonly options: Required<Omit<SiemDeliveryOptions, "onError">> &
      Pick<SiemDeliveryOptions, "onError">,
    private readonly stopping: AbortSignal,
  ) {
    this.takes = sinkTakes(sink.settings.filter);
  }

  get name(): string {
    return this.sink.settings.name;
  }

  start(): void {
    this.running ??= this.loop();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async done(): Promise<void> {
    this.wake();
    await this.running;
  }

  private async loop(): Promise<void> {
    const state = this.audit.store.state;
    const chain = this.audit.chain;
    const key = cursorKey(this.name, chain);
    while (!this.stopping.aborted) {
      try {
        const saved = await state.get(key);
        this.cursor = saved === undefined ? 0 : Number(saved);
        this.saved = this.cursor;
        break;
      } catch (error) {
        this.options.onError?.(this.name, error as Error);
        await this.options.sleep(this.options.pollMs, this.stopping);
      }
    }
    while (!this.stopping.aborted) {
      this.woken = false;
      let caughtUp = false;
      try {
        caughtUp = await this.round(chain, key);
      } catch (error) {
        // the log could not be read or the cursor not saved: try again after a pause
        this.options.onError?.(this.name, error as Error);
        await this.options.sleep(this.options.pollMs, this.stopping);
        continue;
      }
      if (!caughtUp) continue;
      if (!this.woken) {
        // a quiet sink saves its cursor once it is due (the next poll), not at every pause of a
        // busy log: each save is a durable write beside the log's
        if (this.options.clock() - this.savedAt >= this.options.cursorSaveMs)
          await this.save(key).catch((error: Error) => this.options.onError?.(this.name, error));
        await this.idle();
      }
      // caught up and woken by a write: wait a little for the writes after it, so that a busy log
      // is read and sent in batches rather than one group commit at a time
      if (this.sink.settings.batch.lingerMs > 0)
        await this.options.sleep(this.sink.settings.batch.lingerMs, this.stopping);
    }
    await this.save(key).catch((error: Error) => this.options.onError?.(this.name, error));
  }

  /** Waits for a wake-up or the poll interval, whichever comes first. */
  private idle(): Promise<void> {
    const stopping = this.stopping;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(finish, this.options.pollMs);
      // removed when done: a listener left on the process-long signal at every pause would pile up
      stopping.addEventListener("abort", finish, { once: true });
      this.wakeUp = finish;
      if (this.woken) finish();
      function finish() {
        clearTimeout(timer);
        stopping.removeEventListener("abort", finish);
        resolve();
      }
    }).finally(() => {
      this.wakeUp = null;
    });
  }

  /** Reads the entries after the cursor and sends them; true when nothing was left to read. */
  private async round(chain: string, key: string): Promise<boolean> {
    const rows = await this.source.entriesAfter(chain, this.cursor, this.options.readLimit);
    if (rows.length === 0) {
      this.behindSince = null;
      return true;
    }
    this.behindSince = Date.parse(rows[0]!.time);
    const pending = await this.render(rows);
    const lastRow = rows[rows.length - 1]!.seq;
    let from = 0;
    while (from < pending.length) {
      const batch = this.nextBatch(pending, from);
      if (!(await this.deliver(batch))) return false; // stopping
      from += batch.length;
      // entries up to the next pending event were not for this sink: passed over with the batch
      const upTo = from < pending.length ? pending[from]!.seq - 1 : lastRow;
      await this.advance(key, upTo);
      if (from < pending.length) this.behindSince = Date.parse(pending[from]!.out.time);
    }
    if (pending.length === 0) await this.advance(key, lastRow);
    return rows.length < this.options.readLimit;
  }

  private async render(rows: readonly EntryRow[]): Promise<Pending[]> {
    const events = await this.source.eventsOf(rows);
    const out: Pending[] = [];
    for (const { row, event } of events) {
      if (!this.takes(event)) continue;
      const body = this.sink.formatter.render(event);
      out.push({
        seq: row.seq,
        bytes: Buffer.byteLength(body) + 1,
        out: {
          id: event.id,
          kind: event.kind,
          time: event.time,
          body,
          severity: syslogSeverity(event),
        },
      });
    }
    return out;
  }

  private nextBatch(pending: readonly Pending[], from: number): Pending[] {
    const { maxEvents, maxBytes } = this.sink.settings.batch;
    const batch: Pending[] = [];
    let bytes = 0;
    for (let i = from; i < pending.length && batch.length < maxEvents; i++) {
      const p = pending[i]!;
      if (batch.length > 0 && bytes + p.bytes > maxBytes) break;
      batch.push(p);
      bytes += p.bytes;
    }
    return batch;
  }

  /**
   * Moves the cursor past acknowledged (or unwanted) entries. It is saved at most every
   * `cursorSaveMs` (a quiet sink at its next poll once that is due), and when delivery stops: each
   * save is a durable write beside the log's own, and under load one per batch halved the log's
   * commits. A crash loses at most that interval's saves, whose events are sent again with the same
   * ids.
   */
  private async advance(key: string, seq: number): Promise<void> {
    if (seq <= this.cursor) return;
    this.cursor = seq;
    if (this.options.clock() - this.savedAt >= this.options.cursorSaveMs) await this.save(key);
  }

  private async save(key: string): Promise<void> {
    if (this.saved === this.cursor) return;
    const cursor = this.cursor;
    await this.audit.store.state.set(key, String(cursor));
    this.saved = cursor;
    this.savedAt = this.options.clock();
  }

  /**
   * Sends a batch until it is acknowledged or set aside; false when delivery is stopping first
   * (the batch stays after the cursor, to be sent by the next run).
   */
  private async deliver(batch: readonly Pending[]): Promise<boolean> {
    const { retry, deadLetterAfterMs } = this.sink.settings;
    for (let attempt = 0; ; attempt++) {
      if (this.stopping.aborted) return false;
      try {
        await this.sink.transport.send(
          batch.map((p) => p.out),
          this.stopping,
        );
        this.metrics.siemSent.inc({ sink: this.name }, batch.length);
        return true;
      } catch (error) {
        if (this.stopping.aborted) return false;
        const failure =
          error instanceof DeliveryError
            ? error
            : new DeliveryError((error as Error).message, true, { cause: error });
        this.metrics.siemFailures.inc({ sink: this.name, retryable: String(failure.retryable) });
        this.options.onError?.(this.name, failure);
        // refused events are set aside; a refused sink (credentials, a missing stream) keeps its
        // events and waits, with backoff, for its operator: later, the same events may pass
        if (!failure.retryable && !failure.sinkWide) return this.isolate(batch, failure);
        const age = this.options.clock() - Date.parse(batch[0]!.out.time);
        if (age > deadLetterAfterMs) {
          await this.setAside(
            batch,
            `undelivered for longer than deadLetterAfter: ${failure.message}`,
            "expired",
          );
          return true;
        }
        await this.options.sleep(
          Math.max(1, backoffDelay(attempt, retry, this.options.random)),
          this.stopping,
        );
      }
    }
  }

  /** A batch refused for good: its events one at a time, setting aside those refused. */
  private async isolate(batch: readonly Pending[], failure: DeliveryError): Promise<boolean> {
    if (batch.length === 1) {
      await this.setAside(batch, failure.message, "rejected");
      return true;
    }
    for (const one of batch) if (!(await this.deliver([one]))) return false;
    return true;
  }

  private async setAside(
    batch: readonly Pending[],
    error: string,
    reason: "rejected" | "expired",
  ): Promise<void> {
    const now = new Date(this.options.clock()).toISOString();
    const letters: DeadLetter[] = batch.map((p) => ({
      sink: this.name,
      eventId: p.out.id,
      chain: this.audit.chain,
      seq: p.seq,
      kind: p.out.kind,
      time: p.out.time,
      body: p.out.body,
      error,
      createdAt: now,
    }));
    await this.audit.store.outbox.deadLetter(letters);
    this.metrics.siemDeadLettered.inc({ sink: this.name, reason }, batch.length);
  }
}

/** Every configured sink's delivery from this replica's chain. */
export class SiemDelivery {
  private readonly runners: SinkRunner[];
  private readonly stopper = new AbortController();

  constructor(
    sinks: readonly Sink[],
    private readonly audit: AuditLog,
    source: SiemEventSource,
    metrics: Metrics,
    options: SiemDeliveryOptions,
  ) {
    const resolved = {
      pollMs: options.pollMs,
      readLimit: options.readLimit,
      cursorSaveMs: options.cursorSaveMs,
      clock: options.clock ?? Date.now,
      random: options.random ?? Math.random,
      sleep: options.sleep ?? pause,
      onError: options.onError,
    };
    this.runners = sinks.map(
      (s) => new SinkRunner(s, audit, source, metrics, resolved, this.stopper.signal),
    );
    metrics.siemLag = () => this.lag();
  }

  start(): void {
    for (const r of this.runners) r.start();
  }

  /** Something was committed: sinks that wait for it read the log now. */
  wake(): void {
    for (const r of this.runners) r.wake();
  }

  /** Per sink: how far behind the chain's head it is. */
  async lag(): Promise<{ sink: string; seconds: number; entries: number }[]> {
    const head = await this.audit.store.entries.head(this.audit.chain);
    const now = Date.now();
    return this.runners.map((r) => {
      const entries = Math.max(0, (head?.seq ?? 0) - r.cursor);
      return {
        sink: r.name,
        entries,
        seconds:
          entries > 0 && r.behindSince !== null ? Math.max(0, (now - r.behindSince) / 1000) : 0,
      };
    });
  }

  /** Stops sending (a batch in flight is abandoned, to be sent again by the next run) and closes. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await Promise.all(this.runners.map((r) => r.done()));
    await Promise.all(this.runners.map((r) => r.sink.transport.close().catch(() => {})));
  }
}
