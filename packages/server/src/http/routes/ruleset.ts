import type { FastifyInstance } from "fastify";
import type { RulesHolder } from "../../rules.js";
import { ProblemError } from "../problems.js";
import { problemResponses } from "../schemas.js";

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

function describe(holder: RulesHolder) {
  const { lastError, ...status } = holder.status();
  return {
    ...status,
    watching: holder.watching,
    lastError: lastError && { at: lastError.at, messages: lastError.messages },
    rules: holder.ruleset.rules,
  };
}

export async function rulesetRoutes(fastify: FastifyInstance): Promise<void> {
  const { rules, shadow } = fastify.clearance;

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
        summary: "The text of every file of the live rule set",
        description:
          "The rule files, the list files they name and `exceptions.json`, as the live revision was compiled from them (not as the directory holds them now), named relative to the rule directory.",
        tags: ["ruleset"],
        security: [{ bearer: [] }],
        response: {
          200: {
            type: "object",
            properties: {
              revision: { type: "string" },
              files: {
                type: "array",
                items: {
                  type: "object",
                  properties: { path: { type: "string" }, text: { type: "string" } },
                },
              },
            },
          },
          ...problemResponses(401, 403),
        },
      },
    },
    async () => ({ revision: rules.ruleset.revision, files: rules.files }),
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
