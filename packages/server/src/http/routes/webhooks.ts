import type { FastifyInstance } from "fastify";
import { DuplicateDeliveryError } from "../../audit/backend.js";
import { ProblemError } from "../../problems.js";
import { checkDeliveryBinding, checkWebhook, ReplayCache, webhookResult } from "../../webhook.js";
import { parseJsonBody } from "../json-body.js";
import { decisionAnswerSchema, problemResponses } from "../schemas.js";

export async function webhookRoutes(fastify: FastifyInstance): Promise<void> {
  const { decisions, audit, config, keys } = fastify.clearance;
  // Without a signing secret, a server that has API keys still authenticates deliveries: the
  // platform then sends a key with the `decide` scope, or the endpoint would be open to anyone.
  const unsignedNeedsKey = config.webhook.secret === null && keys.size > 0;

  const replays = new ReplayCache(config.webhook.replayCacheMax, config.webhook.toleranceSeconds);
  const jsonOptions = {
    maxDepth: config.limits.jsonDepth,
    pieceBytes: config.server.bodyLimit,
    sliceMs: config.limits.sliceMs,
    names: { maxDepth: "limits.jsonDepth", pieceBytes: "server.bodyLimit" },
  };

  // the signature covers the exact bytes sent, so this route keeps the body as bytes and reads it
  // (UTF-8, depth, JSON) only after the signature has been checked
  fastify.removeContentTypeParser("application/json");
  fastify.addContentTypeParser(
    ["application/json", "application/*+json"],
    { parseAs: "buffer", bodyLimit: config.server.bodyLimit },
    (_request, body, done) => done(null, body),
  );

  fastify.post<{ Body: Buffer }>(
    "/v1/webhooks/platform",
    {
      bodyLimit: config.server.bodyLimit,
      ...(unsignedNeedsKey ? { config: { scopes: ["decide"] as const } } : {}),
      schema: {
        summary: "The platform's analysis webhook",
        description:
          "Receives a finished analysis, decides it and records it with source `webhook`. With `webhook.secret` set, `X-Platform-Timestamp`, `X-Platform-Delivery` and `X-Platform-Signature: sha256=<hex HMAC-SHA256 of '<timestamp>.<body>'>` are required; stale timestamps (401) and repeated delivery ids (409) are refused.",
        tags: ["webhooks"],
        response: {
          200: decisionAnswerSchema,
          ...problemResponses(400, 401, 409, 413, 415, 503),
        },
      },
    },
    async (request) => {
      const raw = request.body;
      const nowMs = Date.now();
      const signed = checkWebhook(request.headers, raw, {
        secret: config.webhook.secret,
        toleranceSeconds: config.webhook.toleranceSeconds,
        nowMs,
      });
      const deliveryId = signed.delivery;
      if (signed.signature !== null && deliveryId !== null) {
        const first = replays.remember(signed.signature, deliveryId, signed.timestamp!, nowMs);
        if (first === "full")
          throw new ProblemError(
            "server_busy",
            `more than ${config.webhook.replayCacheMax} signed deliveries arrived within \`webhook.toleranceSeconds\` (\`webhook.replayCacheMax\`); retry later`,
            [],
            { "retry-after": String(config.limits.pressure.retryAfterSeconds) },
          );
        if (first !== undefined)
          throw new ProblemError(
            "replayed_delivery",
            `this signed delivery was already received as \`${first}\`; sent again as \`${deliveryId}\` it is a replay`,
          );
      }
      const { value: body } = await parseJsonBody(raw, jsonOptions);
      const { result, pointer, delivery } = webhookResult(body);
      if (config.webhook.secret !== null) checkDeliveryBinding(deliveryId, delivery);
      if (deliveryId !== null && (await seen(deliveryId))) throw replayed(deliveryId);
      try {
        return await decisions.decide(
          { result },
          {
            source: "webhook",
            requester: request.requester ?? "platform",
            ...(deliveryId ? { deliveryId } : {}),
          },
        );
      } catch (error) {
        if (error instanceof DuplicateDeliveryError) throw replayed(deliveryId!);
        if (error instanceof ProblemError)
          throw new ProblemError(
            error.code,
            error.detail,
            error.problems.map((p) => ({
              pointer: p.pointer.replace(/^\/result/, pointer),
              message: p.message,
            })),
            error.headers,
          );
        throw error;
      }
    },
  );

  function replayed(id: string): ProblemError {
    return new ProblemError(
      "replayed_delivery",
      `delivery \`${id}\` was already received and decided`,
    );
  }

  async function seen(id: string): Promise<boolean> {
    try {
      return await audit.hasDelivery(id);
    } catch (error) {
      throw new ProblemError("audit_unavailable", (error as Error).message, [], {
        "retry-after": "1",
      });
    }
  }
}
