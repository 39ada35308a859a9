/**
 * Webhook deliveries (docs/platform-api.md, "Webhooks"): one delivery per completed analysis and
 * target, retried with exponential backoff on a non-2xx answer or no answer in time, signed again
 * at each attempt with the same delivery id. `409` means the receiver already has it.
 */
import { createHmac } from "node:crypto";
import type { PlatformFile, WebhookEnvelope } from "@clearance/platform";
import type { WebhookRetryOptions, WebhookTarget } from "./options.js";

/** The signature scheme of `@clearance/server`'s `signWebhook`, re-implemented to stay independent. */
export function signDelivery(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex")}`;
}

export interface DeliveryAttempt {
  attempt: number;
  /** RFC 3339, the simulator's clock */
  at: string;
  /** the signed `X-Platform-Timestamp` */
  timestamp: number;
  /** the receiver's status; null without an answer */
  status: number | null;
  /** why there was no answer (timeout, connection refused...) */
  error: string | null;
  durationMs: number;
}

export interface Delivery {
  id: string;
  url: string;
  event: "analysis.completed";
  sha256: string;
  version: number;
  status: "pending" | "delivered" | "failed";
  attempts: DeliveryAttempt[];
}

/** Deliveries kept for `GET /_sim/deliveries`; older finished ones are forgotten. */
const LOG_LIMIT = 10_000;

export class WebhookDispatcher {
  readonly #log: Delivery[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #stop = new AbortController();

  constructor(
    readonly targets: readonly Readonly<WebhookTarget>[],
    readonly retry: Readonly<Required<WebhookRetryOptions>>,
    readonly now: () => number,
    readonly newId: () => string,
  ) {}

  /** Starts delivering a completed file to every target; returns at once. */
  deliver(file: PlatformFile): void {
    for (const target of this.targets) {
      const delivery: Delivery = {
        id: this.newId(),
        url: target.url,
        event: "analysis.completed",
        sha256: file.sha256,
        version: file.version,
        status: "pending",
        attempts: [],
      };
      this.#remember(delivery);
      const envelope: WebhookEnvelope = {
        event: delivery.event,
        delivery: delivery.id,
        data: file,
      };
      const body = JSON.stringify(envelope);
      const run = this.#run(delivery, target.secret, body, this.#stop.signal);
      this.#inFlight.add(run);
      void run.finally(() => this.#inFlight.delete(run));
    }
  }

  list(): readonly Delivery[] {
    return this.#log;
  }

  /** Resolves when no delivery is pending (waiting deliveries are still retried meanwhile). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Abandons every pending delivery and forgets the log. */
  async reset(): Promise<void> {
    this.#stop.abort();
    await this.idle();
    this.#stop = new AbortController();
    this.#log.length = 0;
  }

  #remember(delivery: Delivery): void {
    this.#log.push(delivery);
    if (this.#log.length > LOG_LIMIT) {
      const i = this.#log.findIndex((d) => d.status !== "pending");
      this.#log.splice(i === -1 ? 0 : i, 1);
    }
  }

  async #run(delivery: Delivery, secret: string, body: string, stop: AbortSignal): Promise<void> {
    const { attempts, baseDelayMs, timeoutMs } = this.retry;
    for (let attempt = 1; attempt <= attempts && !stop.aborted; attempt++) {
      if (attempt > 1 && !(await sleep(baseDelayMs * 2 ** (attempt - 2), stop))) break;
      const nowMs = this.now();
      const timestamp = Math.floor(nowMs / 1000);
      const started = performance.now();
      const record: DeliveryAttempt = {
        attempt,
        at: new Date(nowMs).toISOString(),
        timestamp,
        status: null,
        error: null,
        durationMs: 0,
      };
      delivery.attempts.push(record);
      try {
        const response = await fetch(delivery.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-platform-delivery": delivery.id,
            "x-platform-timestamp": String(timestamp),
            "x-platform-signature": signDelivery(secret, timestamp, body),
          },
          body,
          signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
          redirect: "manual",
        });
        record.status = response.status;
        // Read the answer so the connection can be reused; its content does not matter.
        await response.arrayBuffer().catch(() => undefined);
      } catch (error) {
        record.error =
          error instanceof Error && error.name === "TimeoutError"
            ? `no answer within ${timeoutMs} ms`
            : describe(error);
      }
      record.durationMs = Math.round(performance.now() - started);
      if (
        record.status !== null &&
        ((record.status >= 200 && record.status < 300) || record.status === 409)
      ) {
        delivery.status = "delivered";
        return;
      }
    }
    delivery.status = "failed";
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}

/** Waits; false when stopped first. */
function sleep(ms: number, stop: AbortSignal): Promise<boolean> {
  if (stop.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stop.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    stop.addEventListener("abort", onAbort, { once: true });
  });
}
