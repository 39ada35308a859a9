import type { FastifyInstance } from "fastify";

/** How long `/readyz` waits for the audit store before calling it unreachable. */
const READY_TIMEOUT_MS = 2_000;

export async function healthRoutes(fastify: FastifyInstance): Promise<void> {
  const { audit, rules, metrics } = fastify.clearance;

  fastify.get(
    "/healthz",
    {
      schema: {
        summary: "Liveness: the process answers",
        tags: ["operations"],
        response: { 200: { type: "object", properties: { status: { type: "string" } } } },
      },
    },
    async () => ({ status: "ok" }),
  );

  fastify.get(
    "/readyz",
    {
      schema: {
        summary: "Readiness: rules loaded and the audit log writable by this server",
        tags: ["operations"],
        response: {
          "2xx": {
            type: "object",
            properties: {
              status: { type: "string" },
              checks: {
                type: "object",
                properties: {
                  rules: { type: "string" },
                  audit: { type: "string" },
                },
              },
            },
          },
          503: {
            type: "object",
            properties: {
              status: { type: "string" },
              checks: {
                type: "object",
                properties: { rules: { type: "string" }, audit: { type: "string" } },
              },
            },
          },
        },
      },
    },
    async (_request, reply) => {
      // a write probe (it leaves nothing behind), unless the log is known to be damaged
      const { ready, detail: auditCheck } = await audit.readiness(READY_TIMEOUT_MS);
      const rulesCheck = `ok (${rules.ruleset.revision})`;
      return reply.code(ready ? 200 : 503).send({
        status: ready ? "ready" : "not_ready",
        checks: { rules: rulesCheck, audit: auditCheck },
      });
    },
  );

  fastify.get(
    "/metrics",
    { schema: { summary: "Prometheus metrics", tags: ["operations"], produces: ["text/plain"] } },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );

  fastify.get("/openapi.json", { schema: { hide: true } }, async () => fastify.swagger());
}
