import type { FastifyInstance } from "fastify";
import { problemResponses } from "../schemas.js";

const MACHINE = {
  type: "object",
  properties: {
    id: { type: "string" },
    group: { type: "string" },
    serial: { type: "string" },
    hostname: { type: "string" },
    osVersion: { type: "string" },
    osBuild: { type: "string" },
    model: { type: "string" },
    santaVersion: { type: "string" },
    primaryUser: { type: "string" },
    clientMode: { type: ["string", "null"], description: "as the agent last reported it" },
    ruleCount: { type: "integer", description: "rules the agent held at its last preflight" },
    registeredAt: { type: "string", format: "date-time" },
    lastPreflightAt: { type: ["string", "null"], format: "date-time" },
    lastSyncAt: {
      type: ["string", "null"],
      format: "date-time",
      description: "the last completed sync (its postflight)",
    },
    syncing: {
      type: ["string", "null"],
      description: "the type of a sync begun and not completed (`NORMAL`, `CLEAN`)",
    },
    rulesAcked: { type: "integer" },
    rulesBehind: {
      type: "integer",
      description: "the group's rule changes this machine has not confirmed",
    },
    rulesReceived: { type: "integer" },
    rulesProcessed: { type: "integer" },
    eventsReceived: { type: "integer" },
  },
} as const;

/** The fleet of Santa machines, for people and dashboards (docs/endpoints.md#watching-the-fleet). */
export async function santaFleetRoutes(fastify: FastifyInstance): Promise<void> {
  const santa = fastify.clearance.santa;
  if (!santa) return;
  const read = { scopes: ["audit:read"] as const };

  fastify.get<{ Querystring: { group?: string; cursor?: string; limit: number } }>(
    "/v1/santa/machines",
    {
      config: read,
      schema: {
        summary: "List Santa machines by id",
        tags: ["santa"],
        security: [{ bearer: [] }, { session: [] }],
        querystring: {
          type: "object",
          properties: {
            group: { type: "string", minLength: 1, maxLength: 64 },
            cursor: { type: "string", minLength: 1, maxLength: 128 },
            limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: "object",
            properties: {
              machines: { type: "array", items: MACHINE },
              nextCursor: { type: ["string", "null"] },
            },
          },
          ...problemResponses(400, 401, 403, 503),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const machines = await santa.listMachines({
        limit: q.limit + 1,
        ...(q.group === undefined ? {} : { group: q.group }),
        ...(q.cursor === undefined ? {} : { after: q.cursor }),
      });
      const more = machines.length > q.limit;
      const page = machines.slice(0, q.limit);
      return { machines: page, nextCursor: more ? page[page.length - 1]!.id : null };
    },
  );

  fastify.get<{ Params: { id: string } }>(
    "/v1/santa/machines/:id",
    {
      config: read,
      schema: {
        summary: "One Santa machine, with its group's rules by type and policy",
        tags: ["santa"],
        security: [{ bearer: [] }, { session: [] }],
        params: {
          type: "object",
          properties: { id: { type: "string", minLength: 1, maxLength: 128 } },
          required: ["id"],
        },
        response: {
          200: {
            type: "object",
            properties: {
              ...MACHINE.properties,
              rules: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    ruleType: { type: "string" },
                    policy: { type: "string" },
                    rules: { type: "integer" },
                  },
                },
              },
            },
          },
          ...problemResponses(401, 403, 404, 503),
        },
      },
    },
    async (request) => santa.getMachine(request.params.id),
  );
}
