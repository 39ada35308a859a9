import type { FastifyInstance } from "fastify";
import { parseJsonBody } from "../json-body.js";
import { decisionAnswerSchema, problemResponses } from "../schemas.js";

export async function webhookRoutes(fastify: FastifyInstance): Promise<void> {
  const { webhooks, config, keys } = fastify.clearance;
  // Without a signing secret, a server that has API keys still authenticates deliveries: the
  // platform then sends a key with the `decide` scope, or the endpoint would be open to anyone.
  const unsignedNeedsKey = config.webhook.secret === null && keys.size > 0;
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
    async (request) =>
      webhooks.receive(
        { headers: request.headers, body: request.body, requester: request.requester },
        async (raw) => (await parseJsonBody(raw, jsonOptions)).value,
      ),
  );
}
