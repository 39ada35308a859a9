import { createHmac, timingSafeEqual } from "node:crypto";
import { AuditUnavailableError, DuplicateDeliveryError } from "./audit/backend.js";
import type { AuditLog } from "./audit/log.js";
import type { DecisionAnswer, DecisionService } from "./decide.js";
import {
  type InputProblem,
  InvalidInputError,
  InvalidRequestError,
  InvalidSignatureError,
  ReplayedDeliveryError,
  ServerBusyError,
  StaleTimestampError,
} from "./errors.js";

/**
 * Headers of a signed platform webhook delivery:
 *   X-Platform-Delivery:  a unique id per delivery (retries of one delivery reuse it)
 *   X-Platform-Timestamp: Unix seconds when it was signed
 *   X-Platform-Signature: `sha256=` + hex HMAC-SHA256(secret, timestamp + "." + raw body)
 * Signing the timestamp with the body stops an old delivery from being replayed with a fresh time.
 */
export const WEBHOOK_HEADERS = Object.freeze({
  delivery: "x-platform-delivery",
  timestamp: "x-platform-timestamp",
  signature: "x-platform-signature",
});

export function signWebhook(
  secret: string,
  timestamp: number | string,
  body: string | Uint8Array,
): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex")}`;
}

export interface WebhookCheck {
  secret: string | null;
  toleranceSeconds: number;
  nowMs: number;
}

/**
 * Checks a delivery's signature and timestamp; throws InvalidSignatureError, StaleTimestampError
 * or InvalidRequestError (a bad or missing delivery id) and returns the delivery id (null when unsigned and absent).
 */
export function checkWebhook(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  rawBody: string | Uint8Array,
  check: WebhookCheck,
): { delivery: string | null; signature: string | null; timestamp: number | null } {
  const header = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const delivery = header(WEBHOOK_HEADERS.delivery) ?? null;
  if (delivery !== null && !/^[A-Za-z0-9._:-]{1,128}$/.test(delivery))
    throw new InvalidRequestError(
      "the `X-Platform-Delivery` header must be 1 to 128 letters, digits or `._:-`",
    );
  if (check.secret === null) return { delivery, signature: null, timestamp: null };

  const timestamp = header(WEBHOOK_HEADERS.timestamp);
  const signature = header(WEBHOOK_HEADERS.signature);
  if (signature === undefined)
    throw new InvalidSignatureError("the `X-Platform-Signature` header is missing");
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp))
    throw new InvalidSignatureError(
      "the `X-Platform-Timestamp` header is missing or not Unix seconds",
    );
  const expected = Buffer.from(signWebhook(check.secret, timestamp, rawBody));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new InvalidSignatureError(
      "the signature does not match the body: expected `sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>`",
    );
  const skew = Math.abs(check.nowMs / 1000 - Number(timestamp));
  if (skew > check.toleranceSeconds)
    throw new StaleTimestampError(
      `the delivery was signed ${Math.round(skew)} s away from now; at most ${check.toleranceSeconds} s is accepted`,
    );
  if (delivery === null)
    throw new InvalidRequestError(
      "the `X-Platform-Delivery` header is required with signed deliveries (it is how replays are recognised)",
    );
  return { delivery, signature, timestamp: Number(timestamp) };
}

/**
 * Signed deliveries seen within the time window, by signature (an HMAC of `<timestamp>.<body>`, so
 * one entry per signed content). A captured delivery can be sent again only with its own timestamp
 * and signature, so within the window its signature is here: sent under another delivery id, it
 * is a replay. The platform's own retries are signed again at each attempt, and reuse their id.
 * Entries leave when their timestamp leaves the window; at most `max` are kept.
 */
export class ReplayCache {
  readonly #seen = new Map<string, { delivery: string; expiresMs: number }>();

  constructor(
    readonly max: number,
    readonly toleranceSeconds: number,
  ) {}

  get size(): number {
    return this.#seen.size;
  }

  /**
   * Remembers a verified delivery. Returns the id it was first received under when the same
   * signed content came before with another id, "full" when no room is left, else undefined.
   */
  remember(
    signature: string,
    delivery: string,
    timestamp: number,
    nowMs: number,
  ): string | "full" | undefined {
    const seen = this.#seen.get(signature);
    if (seen !== undefined && seen.expiresMs > nowMs)
      return seen.delivery === delivery ? undefined : seen.delivery;
    this.#expire(nowMs, false);
    if (this.#seen.size >= this.max) this.#expire(nowMs, true);
    if (this.#seen.size >= this.max) return "full";
    this.#seen.delete(signature);
    this.#seen.set(signature, {
      delivery,
      expiresMs: (timestamp + this.toleranceSeconds) * 1000,
    });
    return undefined;
  }

  /** Drops expired entries: from the oldest until a live one, or (`all`) every one. */
  #expire(nowMs: number, all: boolean): void {
    for (const [signature, { expiresMs }] of this.#seen) {
      if (expiresMs <= nowMs) this.#seen.delete(signature);
      else if (!all) return;
    }
  }
}

/**
 * The analysis inside a webhook body: the platform's envelope `{event, delivery, data}` (or
 * `result` for `data`), or a bare result. `delivery` is the id inside the signed body, when any.
 */
export function webhookResult(body: unknown): {
  result: unknown;
  pointer: string;
  delivery: string | undefined;
} {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    if (typeof b.event === "string") {
      const delivery = typeof b.delivery === "string" ? b.delivery : undefined;
      if ("result" in b) return { result: b.result, pointer: "/result", delivery };
      if ("data" in b) return { result: b.data, pointer: "/data", delivery };
    }
  }
  return { result: body, pointer: "", delivery: undefined };
}

/**
 * The header's delivery id is not signed; the envelope's is. When both are there they must agree,
 * or a captured delivery could be replayed under a fresh header id within the time tolerance.
 */
export function checkDeliveryBinding(header: string | null, signedBody: string | undefined): void {
  if (signedBody !== undefined && header !== null && header !== signedBody)
    throw new InvalidSignatureError(
      `the \`X-Platform-Delivery\` header (\`${header}\`) differs from the signed body's \`delivery\` (\`${signedBody.slice(0, 128)}\`)`,
    );
}

export interface WebhookServiceOptions {
  /** the signing secret; null accepts unsigned deliveries */
  secret: string | null;
  toleranceSeconds: number;
  /** at most this many signed deliveries remembered within the tolerance (`webhook.replayCacheMax`) */
  replayCacheMax: number;
  /** how long a delivery refused for want of room is told to wait */
  busyRetryAfterSeconds: number;
}

/** One delivery as received: its headers, its body's exact bytes and who sent it. */
export interface Delivery {
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
  /** the API key id that authenticated it, or null */
  requester: string | null;
}

/**
 * Receives the platform's webhook deliveries: checks the signature and timestamp, refuses replays
 * (by signed content within the tolerance, and by delivery id in the audit log), reads the analysis
 * from the body, decides and records it with source `webhook`. The body is read only after its
 * signature has been checked, with the caller's JSON reader (`parseJson`), which holds its limits.
 */
export class WebhookService {
  readonly #replays: ReplayCache;

  constructor(
    private readonly decisions: DecisionService,
    private readonly audit: Pick<AuditLog, "hasDelivery">,
    private readonly options: WebhookServiceOptions,
  ) {
    this.#replays = new ReplayCache(options.replayCacheMax, options.toleranceSeconds);
  }

  async receive(
    delivery: Delivery,
    parseJson: (body: Buffer) => Promise<unknown>,
  ): Promise<DecisionAnswer> {
    const { secret, toleranceSeconds } = this.options;
    const nowMs = Date.now();
    const signed = checkWebhook(delivery.headers, delivery.body, {
      secret,
      toleranceSeconds,
      nowMs,
    });
    const deliveryId = signed.delivery;
    if (signed.signature !== null && deliveryId !== null) {
      const first = this.#replays.remember(signed.signature, deliveryId, signed.timestamp!, nowMs);
      if (first === "full")
        throw new ServerBusyError(
          `more than ${this.options.replayCacheMax} signed deliveries arrived within \`webhook.toleranceSeconds\` (\`webhook.replayCacheMax\`); retry later`,
          this.options.busyRetryAfterSeconds,
        );
      if (first !== undefined)
        throw new ReplayedDeliveryError(
          `this signed delivery was already received as \`${first}\`; sent again as \`${deliveryId}\` it is a replay`,
        );
    }
    const body = await parseJson(delivery.body);
    const { result, pointer, delivery: signedId } = webhookResult(body);
    if (secret !== null) checkDeliveryBinding(deliveryId, signedId);
    if (deliveryId !== null && (await this.#seen(deliveryId))) throw replayed(deliveryId);
    try {
      return await this.decisions.decide(
        { result },
        {
          source: "webhook",
          requester: delivery.requester ?? "platform",
          ...(deliveryId ? { deliveryId } : {}),
        },
      );
    } catch (error) {
      if (error instanceof DuplicateDeliveryError) throw replayed(deliveryId!);
      // the result sits at `pointer` in the delivery's body, not at `/result`
      if (error instanceof InvalidInputError)
        throw new (error.constructor as new (m: string, p: InputProblem[]) => InvalidInputError)(
          error.message,
          error.problems.map((p) => ({
            pointer: p.pointer.replace(/^\/result/, pointer),
            message: p.message,
          })),
        );
      throw error;
    }
  }

  async #seen(id: string): Promise<boolean> {
    try {
      return await this.audit.hasDelivery(id);
    } catch (error) {
      if (error instanceof AuditUnavailableError) throw error;
      throw new AuditUnavailableError((error as Error).message, { cause: error });
    }
  }
}

function replayed(id: string): ReplayedDeliveryError {
  return new ReplayedDeliveryError(`delivery \`${id}\` was already received and decided`);
}
