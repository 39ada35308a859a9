import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { AuditFilter } from "../../audit/backend.js";
import type { AuditEntry } from "../../audit/entry.js";
import { ID_PATTERN } from "../../audit/ids.js";
import { DECISION_KIND, ENTRY_KINDS } from "../../audit/kinds.js";
import { ProblemError } from "../problems.js";
import { auditFilterSchema, entrySchema, problemResponses } from "../schemas.js";

type Query = AuditFilter & { limit: number; cursor?: string };

/** Lists leave the (possibly large) explanation out; `GET /v1/audit/{id}` has it. */
function summary(entry: AuditEntry): Omit<AuditEntry, "explain"> & { explained: boolean } {
  const { explain, ...rest } = entry;
  return { ...rest, explained: explain != null };
}

function normalise(q: AuditFilter): AuditFilter {
  const f: AuditFilter = { ...q };
  if (f.sha256) f.sha256 = f.sha256.toLowerCase();
  // stored times are UTC with milliseconds, so comparing text compares instants
  if (f.from) f.from = new Date(f.from).toISOString();
  if (f.to) f.to = new Date(f.to).toISOString();
  return f;
}

export async function auditRoutes(fastify: FastifyInstance): Promise<void> {
  const { audit, decisions, serverEvents } = fastify.clearance;
  const read = { scopes: ["audit:read"] as const };

  fastify.get<{ Querystring: Query }>(
    "/v1/audit",
    {
      config: read,
      schema: {
        summary: "Search the audit log, newest first",
        tags: ["audit"],
        security: [{ bearer: [] }, { session: [] }],
        querystring: {
          ...auditFilterSchema,
          properties: {
            ...auditFilterSchema.properties,
            limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
            cursor: { type: "string", description: "`nextCursor` of the previous page" },
          },
        },
        response: {
          200: {
            type: "object",
            properties: {
              entries: {
                type: "array",
                items: {
                  type: "object",
                  properties: { ...entrySchema.properties, explained: { type: "boolean" } },
                },
              },
              nextCursor: { type: ["string", "null"] },
            },
          },
          ...problemResponses(400, 401, 403, 503),
        },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      if (cursor !== undefined && !new RegExp(ID_PATTERN).test(cursor))
        throw new ProblemError(
          "invalid_cursor",
          "`cursor` must be the `nextCursor` of a previous page",
          [{ pointer: "querystring:/cursor", message: "not a cursor" }],
        );
      const page = await audit.query(normalise(filter), limit, cursor);
      return { entries: page.entries.map(summary), nextCursor: page.nextCursor };
    },
  );

  fastify.get<{ Querystring: AuditFilter & { inputs?: boolean; kind?: string } }>(
    "/v1/audit/export",
    {
      config: read,
      schema: {
        summary: "Export the audit log as NDJSON, oldest first",
        description:
          "One entry per line, each with its `input` snapshot (`inputs=false` leaves them out). The lines replay with `clearance dry-run --from`.",
        tags: ["audit"],
        security: [{ bearer: [] }, { session: [] }],
        querystring: {
          ...auditFilterSchema,
          properties: {
            ...auditFilterSchema.properties,
            inputs: { type: "boolean", default: true },
            kind: {
              type: "string",
              enum: ENTRY_KINDS.map((k) => k.name),
              default: DECISION_KIND.name,
              description:
                "entries of this kind: decisions (filtered), or every review case, vote or exception entry",
            },
          },
        },
        produces: ["application/x-ndjson"],
      },
    },
    async (request, reply) => {
      const { inputs, kind, ...filter } = request.query;
      if (kind !== undefined && kind !== DECISION_KIND.name) {
        const given = Object.keys(filter);
        if (given.length > 0)
          throw new ProblemError(
            "invalid_request",
            `\`${given[0]}\` filters decisions; \`kind=${kind}\` exports every entry of its kind`,
            [{ pointer: `querystring:/${given[0]}`, message: "only with `kind=decision`" }],
          );
        const entries = audit.exportKind(kind);
        reply.type("application/x-ndjson; charset=utf-8");
        return reply.send(
          Readable.from(
            (async function* () {
              for await (const e of entries) yield `${JSON.stringify(e)}\n`;
            })(),
            { objectMode: false, highWaterMark: 1 },
          ),
        );
      }
      // chunks of lines, read (on a reader thread, with SQLite) only as the client takes them
      const chunks = audit.exportLines(normalise(filter), { inputs: inputs !== false });
      reply.type("application/x-ndjson; charset=utf-8");
      return reply.send(Readable.from(chunks, { objectMode: false, highWaterMark: 1 }));
    },
  );

  fastify.post(
    "/v1/audit/verify",
    {
      config: read,
      schema: {
        summary: "Check every chain of the audit log",
        description:
          "Recomputes every entry's hash from the start of its chain (or its retention checkpoint). `ok: false` names the first broken link, or the damage to the store (`damage`).",
        tags: ["audit"],
        security: [{ bearer: [] }, { session: [] }],
        response: {
          200: {
            type: "object",
            properties: {
              ok: { type: "boolean" },
              entries: { type: "integer" },
              chains: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    chain: { type: "string" },
                    entries: { type: "integer" },
                    from: { type: "integer" },
                    to: { type: "integer" },
                    head: { type: "string" },
                  },
                },
              },
              broken: {
                type: "object",
                properties: {
                  chain: { type: "string" },
                  seq: { type: "integer" },
                  id: { type: ["string", "null"] },
                  problem: { type: "string" },
                },
              },
              damage: {
                type: "object",
                description:
                  "The store is damaged: what it said, the entries it could not read, and damage to its pages",
                properties: {
                  where: { type: "string" },
                  message: { type: "string" },
                  code: { type: ["string", "null"] },
                  unreadable: {
                    type: "array",
                    items: {
                      type: "object",
                      properties: {
                        chain: { type: "string" },
                        from: { type: "integer" },
                        to: { type: ["integer", "null"] },
                      },
                    },
                  },
                  pages: { type: "array", items: { type: "string" } },
                },
              },
            },
          },
          ...problemResponses(401, 403, 503),
        },
      },
    },
    async () => {
      const report = await audit.verify();
      // recorded for SIEMs; a log too damaged to take the entry still answers with the report
      if (!report.ok) await serverEvents.verifyFailed(report).catch(() => {});
      return report;
    },
  );

  fastify.get<{ Params: { id: string } }>(
    "/v1/audit/:id",
    {
      config: read,
      schema: {
        summary: "One audit entry with its input snapshot and explanation",
        tags: ["audit"],
        security: [{ bearer: [] }, { session: [] }],
        params: {
          type: "object",
          required: ["id"],
          properties: { id: { type: "string", pattern: ID_PATTERN } },
        },
        response: {
          200: {
            type: "object",
            properties: {
              entry: entrySchema,
              input: { type: ["object", "null"], additionalProperties: true },
              explain: {
                type: "object",
                properties: {
                  source: { type: "string", enum: ["stored", "recomputed", "unavailable"] },
                  why: { type: "string" },
                  explain: { type: ["object", "null"], additionalProperties: true },
                },
              },
            },
          },
          ...problemResponses(400, 401, 403, 404, 503),
        },
      },
    },
    async (request) => {
      const found = await audit.get(request.params.id);
      if (!found) throw new ProblemError("not_found", `no audit entry \`${request.params.id}\``);
      return {
        entry: found.entry,
        input: found.input,
        explain: decisions.explainEntry(found.entry, found.input),
      };
    },
  );
}
