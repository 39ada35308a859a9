import type { OutboxRow } from "./audit/backend.js";
import type { DecisionRecord, DecisionSource } from "./audit/entry.js";
import type { AuditLog } from "./audit/log.js";
import type { Notification } from "./audit/seal.js";
import { VERSION } from "./version.js";
import { signWebhook } from "./webhook.js";

export interface NotificationTarget {
  id: string;
  url: string;
  /** signs each POST (`X-Clearance-Signature`); null sends unsigned */
  secret: string | null;
  /** the decisions that notify this target */
  decisions: readonly ("allow" | "deny" | "review")[];
  /** only decisions asked for through these sources; empty for all */
  sources: readonly DecisionSource[];
  timeoutMs: number;
}

export interface NotifierOptions {
  targets: readonly NotificationTarget[];
  retry: { baseDelayMs: number; maxDelayMs: number };
  /** how often the outbox is read when nothing wakes the sender */
  pollMs: number;
  /** at most this many POSTs in flight */
  concurrency: number;
  fetch?: typeof fetch;
  random?: () => number;
  /** the time notifications fall due by (the entries' clock: tests move it) */
  clock?: () => number;
  onResult?: (target: string, ok: boolean, error?: string) => void;
  onError?: (error: Error) => void;
  /**
   * Targets the server handles itself (`@redecide`: decide a file again), by target id: a row for
   * one is done when its handler resolves, and retried with the same backoff when it throws.
   */
  local?: ReadonlyMap<string, (row: OutboxRow) => Promise<void>>;
}

/**
 * Headers of a notification: the same scheme as the platform's webhooks, under Clearance's name.
 *   X-Clearance-Delivery:  `<decision id>:<target id>`, the same on every retry (deduplicate on it)
 *   X-Clearance-Timestamp: Unix seconds of this attempt
 *   X-Clearance-Signature: `sha256=` + hex HMAC-SHA256(secret, `<timestamp>.<body>`)
 */
export const NOTIFICATION_HEADERS = Object.freeze({
  delivery: "x-clearance-delivery",
  timestamp: "x-clearance-timestamp",
  signature: "x-clearance-signature",
});

/** The platform's webhook scheme, so one receiver-side check serves both. */
export const signNotification = signWebhook;

/** The notifications a decision queues, one per target that wants it. */
export function notificationsFor(
  targets: readonly NotificationTarget[],
  record: DecisionRecord,
): Notification[] {
  const out: Notification[] = [];
  for (const t of targets) {
    if (!t.decisions.includes(record.decision)) continue;
    if (t.sources.length > 0 && !t.sources.includes(record.source)) continue;
    out.push({
      target: t.id,
      payload: JSON.stringify({
        event: "decision.recorded",
        decision: {
          decisionId: record.id,
          sha256: record.sha256,
          fileName: record.fileName,
          decision: record.decision,
          rule: record.rule,
          reason: record.reason,
          source: record.source,
          requester: record.requester,
          ruleset: { revision: record.ruleset.revision, commit: record.ruleset.commit },
          evaluatedAt: record.time,
        },
      }),
    });
  }
  return out;
}

/**
 * Sends the outbox. Notifications are written with their decisions (same transaction), so a crash
 * or a receiver outage loses none; each is retried with capped exponential backoff until the
 * receiver answers 2xx, and is never sent again after that. A receiver that acknowledged but whose
 * acknowledgement we failed to record sees the same delivery id again: it deduplicates on it.
 */
export class Notifier {
  private readonly targets: Map<string, NotificationTarget>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly audit: AuditLog,
    private readonly options: NotifierOptions,
  ) {
    this.targets = new Map(options.targets.map((t) => [t.id, t]));
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Reads the outbox now (after a commit that queued notifications), or soon if already reading. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.wake();
      } else {
        this.timer = setTimeout(() => this.wake(), this.options.pollMs);
        this.timer.unref();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: sends every due notification. */
  async drain(): Promise<void> {
    try {
      for (;;) {
        const due = await this.audit.store.outbox.dueNotifications(
          this.audit.chain,
          new Date((this.options.clock ?? Date.now)()).toISOString(),
          this.options.concurrency * 4,
        );
        if (due.length === 0) return;
        await pool(due, this.options.concurrency, (row) => this.send(row));
        if (this.stopped) return;
      }
    } catch (error) {
      // the store is down: the rows stay in the outbox, the next poll tries again
      this.options.onError?.(error as Error);
    }
  }

  private async send(row: OutboxRow): Promise<void> {
    const target = this.targets.get(row.target);
    const attempts = row.attempts + 1;
    let error: string | null = null;
    const local = this.options.local?.get(row.target);
    if (local) {
      try {
        await local(row);
      } catch (e) {
        error = (e as Error).message;
      }
    } else if (!target) error = `target \`${row.target}\` is no longer configured`;
    else {
      const ts = Math.floor(Date.now() / 1000);
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "user-agent": `clearance/${VERSION}`,
        [NOTIFICATION_HEADERS.delivery]: row.id,
        [NOTIFICATION_HEADERS.timestamp]: String(ts),
      };
      if (target.secret)
        headers[NOTIFICATION_HEADERS.signature] = signNotification(target.secret, ts, row.payload);
      try {
        const res = await (this.options.fetch ?? fetch)(target.url, {
          method: "POST",
          headers,
          body: row.payload,
          signal: AbortSignal.timeout(target.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) error = `HTTP ${res.status}`;
      } catch (e) {
        error =
          (e as Error).name === "TimeoutError"
            ? `no answer within ${target.timeoutMs} ms`
            : (e as Error).message;
      }
    }
    if (!local) this.options.onResult?.(row.target, error === null, error ?? undefined);
    else if (error !== null) this.options.onError?.(new Error(`${row.target} ${row.id}: ${error}`));
    const now = (this.options.clock ?? Date.now)();
    const { baseDelayMs, maxDelayMs } = this.options.retry;
    // full jitter between half and all of the capped exponential delay
    const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempts - 1, 30));
    const wait = delay / 2 + (this.options.random ?? Math.random)() * (delay / 2);
    await this.audit.store.outbox.updateNotification(row.id, {
      attempts,
      deliveredAt: error === null ? new Date(now).toISOString() : null,
      nextAttemptAt: new Date(error === null ? now : now + wait).toISOString(),
      lastError: error,
    });
  }
}

async function pool<T>(
  items: readonly T[],
  size: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length) await run(items[next++]!);
  });
  await Promise.all(workers);
}
