import type { Static } from "@clearance/options";
import type { FastifyInstance } from "fastify";
import { answerOf } from "../../decide.js";
import { ProblemError, problemOf } from "../problems.js";
import {
  batchAnswerSchema,
  batchRequestSchema,
  decisionAnswerSchema,
  decisionBodySchema,
  entrySchema,
  IDEMPOTENCY_HEADERS,
  problemResponses,
  SHA256,
} from "../schemas.js";

/** Batches are larger than single requests; their body limit grows with the item limit. */
const BATCH_BYTES_PER_ITEM = 16_384;

export async function decisionRoutes(fastify: FastifyInstance): Promise<void> {
  const { decisions, audit, config, metrics } = fastify.clearance;

  const keyOf = (headers: Static<typeof IDEMPOTENCY_HEADERS>) =>
    headers["idempotency-key"] === undefined ? {} : { idempotencyKey: headers["idempotency-key"] };

  fastify.post<{
    Body: Static<typeof decisionBodySchema>;
    Headers: Static<typeof IDEMPOTENCY_HEADERS>;
  }>(
    "/v1/decisions",
    {
      bodyLimit: config.server.bodyLimit,
      config: { scopes: ["decide"], limitInFlight: true },
      schema: {
        summary: "Decide one analysis result",
        description:
          "Validates the result (canonical or VirusTotal), decides it with the live rules, records the decision in the audit log and answers. The answer is sent only after the entry is durable. With `Idempotency-Key`, a decision recorded under the key is answered as recorded, never recorded twice.",
        tags: ["decisions"],
        security: [{ bearer: [] }, { session: [] }],
        headers: IDEMPOTENCY_HEADERS,
        body: decisionBodySchema,
        response: {
          200: decisionAnswerSchema,
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request) => {
      const { source, ...body } = request.body;
      return decisions.decide(
        body,
        { source: source ?? "api", requester: request.requester },
        request.rawJson,
        keyOf(request.headers),
      );
    },
  );

  const batchLimit = config.server.batchLimit;
  fastify.post<{
    Body: Static<typeof batchRequestSchema>;
    Headers: Static<typeof IDEMPOTENCY_HEADERS>;
  }>(
    "/v1/decisions/batch",
    {
      bodyLimit: Math.max(config.server.bodyLimit, batchLimit * BATCH_BYTES_PER_ITEM),
      config: {
        scopes: ["decide"],
        limitInFlight: true,
        bodyLimitName: `the larger of \`server.bodyLimit\` and \`server.batchLimit\` × ${BATCH_BYTES_PER_ITEM}`,
      },
      schema: {
        summary: "Decide several analysis results",
        description: `Up to ${batchLimit} items (\`server.batchLimit\`). One answer per item, in order, each on its own: a decision once its entry is durable, or \`error\` (bad input, or \`audit_unavailable\` for an item the audit log could not record, with \`Retry-After\`). Only when the log records none of the items is the whole batch refused with 503. Send again only the items answered with \`audit_unavailable\`, or the whole batch with the same \`Idempotency-Key\`: items already recorded under it are answered as recorded, never recorded twice.`,
        tags: ["decisions"],
        security: [{ bearer: [] }, { session: [] }],
        headers: IDEMPOTENCY_HEADERS,
        body: batchRequestSchema,
        response: {
          200: batchAnswerSchema,
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429, 503),
        },
      },
      // the item count is checked before the items are validated, so a huge batch fails fast
      preValidation: async (request) => {
        const items = (request.body as { items?: unknown } | null)?.items;
        if (Array.isArray(items) && items.length > batchLimit)
          throw new ProblemError(
            "batch_too_large",
            `the batch has ${items.length} items; the limit is ${batchLimit}`,
            [{ pointer: "/items", message: `at most ${batchLimit} items` }],
          );
      },
    },
    async (request, reply) => ({
      items: (
        await decisions.decideBatch(
          request.body.items,
          { source: "batch", requester: request.requester },
          { sliceMs: config.limits.sliceMs, ...keyOf(request.headers) },
        )
      ).map((item) => {
        if (!("error" in item)) return item;
        // an item's own problem, in the body of the batch's answer; an item the log could not
        // record says when to send it again, as a refused request would
        const p = problemOf(item.error);
        metrics.rejected.inc({ code: p.code });
        const retryAfter = p.headers["retry-after"];
        if (retryAfter !== undefined) reply.header("retry-after", retryAfter);
        return { error: { code: p.code, detail: p.detail, problems: p.problems } };
      }),
    }),
  );

  fastify.get<{ Params: { sha256: string }; Querystring: { refresh: boolean } }>(
    "/v1/decisions/:sha256",
    {
      config: { scopes: ["decide", "audit:read"], limitInFlight: true },
      schema: {
        summary: "The latest recorded decision for a file",
        description:
          "With a platform configured, a file never decided (or `refresh=true`) is fetched from the platform, decided with the live rules and recorded; the answer is then a new decision.",
        tags: ["decisions"],
        security: [{ bearer: [] }, { session: [] }],
        params: { type: "object", properties: { sha256: SHA256 }, required: ["sha256"] },
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            refresh: {
              type: "boolean",
              default: false,
              description: "fetch the result from the platform again and decide it now",
            },
          },
        },
        response: {
          200: {
            type: "object",
            properties: {
              ...decisionAnswerSchema.properties,
              source: entrySchema.properties.source,
              requester: entrySchema.properties.requester,
              fileName: entrySchema.properties.fileName,
            },
          },
          ...problemResponses(400, 401, 403, 404, 429, 502, 503),
        },
      },
    },
    async (request) => {
      const sha256 = request.params.sha256.toLowerCase();
      const meta = { source: "api" as const, requester: request.requester };
      if (!request.query.refresh) {
        const entry = await audit.latestFor(sha256);
        // the same projection as a new decision's answer, of the record as stored
        if (entry) return { ...answerOf(entry), source: entry.source, requester: entry.requester };
        if (!decisions.canFetch)
          throw new ProblemError("not_found", `no decision is recorded for \`${sha256}\``);
      }
      const answer = await decisions.decideFromPlatform(sha256, meta, {
        fresh: request.query.refresh,
      });
      return { ...answer, source: meta.source, requester: meta.requester };
    },
  );
}
