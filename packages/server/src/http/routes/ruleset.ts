import type { FastifyInstance } from "fastify";
import { BUCKET_PATTERN, HIT_KINDS, type HitsRequest, ruleHits } from "../../hits.js";
import type { RulesHolder } from "../../rules.js";
import { ProblemError } from "../problems.js";
import { diagnosticDataSchema, problemResponses } from "../schemas.js";

const statusSchema = {
  type: "object",
  properties: {
    dir: { type: "string" },
    revision: { type: "string" },
    commit: {
      type: ["object", "null"],
      properties: { sha: { type: "string" }, dirty: { type: "boolean" } },
    },
    loadedAt: { type: "string", format: "date-time" },
    reloads: { type: "integer" },
    watching: { type: "boolean" },
    lastError: {
      type: ["object", "null"],
      properties: {
        at: { type: "string" },
        messages: { type: "array", items: { type: "string" } },
        diagnostics: {
          type: "array",
          description: "the same errors as data, each with its place and its code frame",
          items: diagnosticDataSchema,
        },
      },
    },
    rules: {
      type: "array",
      items: {
        type: "object",
        properties: {
          name: { type: "string" },
          action: { type: "string" },
          monitor: { type: "boolean" },
          priority: { type: "number" },
          expires: { type: "string" },
          location: {
            type: "object",
            properties: {
              file: { type: "string" },
              line: { type: "integer" },
              column: { type: "integer" },
            },
          },
        },
      },
    },
  },
} as const;

const filesSchema = {
  type: "object",
  properties: {
    revision: { type: "string" },
    files: {
      type: "array",
      items: {
        type: "object",
        properties: {
          path: {
            type: "string",
            description: "relative to the rule directory, with `/` separators",
          },
          text: { type: "string" },
        },
      },
    },
  },
} as const;

const countsSchema = {
  type: "object",
  properties: Object.fromEntries(HIT_KINDS.map((k) => [k, { type: "integer" }])),
} as const;

function describe(holder: RulesHolder) {
  const { lastError, ...status } = holder.status();
  return {
    ...status,
    watching: holder.watching,
    lastError: lastError && {
      at: lastError.at,
      messages: lastError.messages,
      diagnostics: lastError.diagnostics,
    },
    rules: holder.ruleset.rules,
  };
}

export async function rulesetRoutes(fastify: FastifyInstance): Promise<void> {
  const { rules, shadow, audit } = fastify.clearance;

  fastify.get(
    "/v1/ruleset",
    {
      config: { scopes: ["decide", "audit:read"] },
      schema: {
        summary: "The live rule set (and the shadow one), with the last reload error",
        tags: ["ruleset"],
        security: [{ bearer: [] }, { session: [] }],
        response: {
          200: {
            type: "object",
            properties: {
              ...statusSchema.properties,
              shadow: { ...statusSchema, type: ["object", "null"] },
            },
          },
          ...problemResponses(401, 403),
        },
      },
    },
    async () => ({ ...describe(rules), shadow: shadow ? describe(shadow) : null }),
  );

  fastify.get(
    "/v1/ruleset/files",
    {
      config: { scopes: ["decide", "audit:read"] },
      schema: {
        summary: "The rule files of the live (and shadow) rule set",
        description:
          "The `.rules` files, as each revision was compiled from them (a file edited since, or a reload that failed, does not change them), named relative to its rule directory with `/` separators. List files and `exceptions.json` are not sent: a hash list can be hundreds of megabytes, and the playground uses the live ones on the server.",
        tags: ["ruleset"],
        security: [{ bearer: [] }],
        response: {
          200: {
            type: "object",
            properties: {
              ...filesSchema.properties,
              shadow: { ...filesSchema, type: ["object", "null"] },
            },
          },
          ...problemResponses(401, 403),
        },
      },
    },
    async () => {
      // rule files only: a hash list can be hundreds of megabytes, and the playground reads the
      // live lists where they are, in the server's memory
      const files = (holder: RulesHolder) => ({
        revision: holder.ruleset.revision,
        files: holder.files.filter((f) => f.path.endsWith(".rules")),
      });
      return { ...files(rules), shadow: shadow ? files(shadow) : null };
    },
  );

  fastify.get<{ Querystring: HitsRequest }>(
    "/v1/ruleset/hits",
    {
      config: { scopes: ["audit:read"] },
      schema: {
        summary: "Each rule's hits over time, counted from the audit log",
        description:
          "Decisions of `[from, to)` (widened to whole buckets) counted per bucket and rule: the decisions each rule decided by outcome, those it matched, monitor matches, and shadow disagreements.",
        tags: ["ruleset"],
        security: [{ bearer: [] }],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            from: {
              type: "string",
              format: "date-time",
              description: "inclusive; default: a day before `to`",
            },
            to: { type: "string", format: "date-time", description: "exclusive; default: now" },
            bucket: {
              type: "string",
              pattern: BUCKET_PATTERN,
              description: "`15m`, `1h`, `1d`...; default `1h`",
            },
          },
        },
        response: {
          200: {
            type: "object",
            properties: {
              from: { type: "string", format: "date-time" },
              to: { type: "string", format: "date-time" },
              bucket: { type: "string" },
              bucketSeconds: { type: "integer" },
              bucketCount: { type: "integer" },
              rules: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    rule: { type: ["string", "null"] },
                    totals: countsSchema,
                    buckets: {
                      type: "array",
                      items: {
                        type: "object",
                        properties: {
                          at: { type: "string", format: "date-time" },
                          ...countsSchema.properties,
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          ...problemResponses(400, 401, 403, 503),
        },
      },
    },
    async (request) => ruleHits(audit, request.query),
  );

  fastify.post(
    "/v1/ruleset/reload",
    {
      config: { scopes: ["admin"] },
      schema: {
        summary: "Compile the rules again and swap them in",
        description:
          "When the new rules do not compile, the previous rules keep serving and the answer is 422 with the diagnostics.",
        tags: ["ruleset"],
        security: [{ bearer: [] }, { session: [] }],
        response: {
          200: {
            type: "object",
            properties: {
              changed: { type: "boolean" },
              revision: { type: "string" },
              shadow: {
                type: ["object", "null"],
                properties: { changed: { type: "boolean" }, revision: { type: "string" } },
              },
            },
          },
          ...problemResponses(401, 403, 422),
        },
      },
    },
    async () => {
      const live = await rules.reload("api");
      if (!live.ok)
        throw new ProblemError(
          "reload_failed",
          live.error.messages[0] ?? "the rules do not compile",
          live.error.messages.map((message) => ({ pointer: "", message })),
        );
      const s = await shadow?.reload("api");
      if (s && !s.ok)
        throw new ProblemError(
          "reload_failed",
          `shadow rules: ${s.error.messages[0] ?? "they do not compile"}`,
          s.error.messages.map((message) => ({ pointer: "", message })),
        );
      return {
        changed: live.changed,
        revision: live.revision,
        shadow: s?.ok ? { changed: s.changed, revision: s.revision } : null,
      };
    },
  );
}
