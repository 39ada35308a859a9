// The playground's endpoints: candidate rules sent as text, decided on one input or replayed over
// a period of recorded decisions. They read (the audit log, the live rules) and change nothing,
// so they need `audit:read`.
import { INPUT_FORMATS } from "@clearance/engine";
import { type Static, Type } from "@clearance/options";
import type { FastifyInstance } from "fastify";
import { ID_PATTERN } from "../../audit/ids.js";
import { diagnosticDataSchema, problemResponses } from "../schemas.js";

const MAX_FILES = 500;

const FILES = Type.Array(
  Type.Object(
    {
      path: Type.String({
        minLength: 1,
        maxLength: 1_000,
        description:
          "relative to the rule directory, `/` between names: `threats.rules`, `lists/known-bad.sha256`, `exceptions.json`",
      }),
      text: Type.String(),
    },
    { additionalProperties: false },
  ),
  {
    minItems: 1,
    maxItems: MAX_FILES,
    description:
      "the candidate rule set: `*.rules` files, the list files they name (a list not sent is read from the live rule set, never from disk) and `exceptions.json`",
  },
);

const TIME = Type.Unsafe<string>({ type: "string", format: "date-time" });
const free = (description: string) =>
  Type.Unsafe<unknown>({ type: "object", additionalProperties: true, description });

const DECIDE_BODY = Type.Object(
  {
    files: FILES,
    input: Type.Optional(
      free("a canonical analysis result or a VirusTotal v3 file object (detected)"),
    ),
    format: Type.Optional(
      Type.Enum([...INPUT_FORMATS], { type: "string", description: "skip format detection" }),
    ),
    auditId: Type.Optional(
      Type.String({
        pattern: ID_PATTERN,
        description: "decide this audit entry's stored input (and context) instead of `input`",
      }),
    ),
    context: Type.Optional(free("values for the fields the rules declare with `context`")),
    now: Type.Optional(
      Type.Unsafe<string>({
        type: "string",
        format: "date-time",
        description: "the evaluation time; default: the audit entry's time, or now",
      }),
    ),
  },
  { additionalProperties: false },
);

const DRY_RUN_BODY = Type.Object(
  {
    files: FILES,
    from: Type.Unsafe<string>({ ...TIME, description: "first instant of the period (inclusive)" }),
    to: Type.Unsafe<string>({ ...TIME, description: "end of the period (exclusive)" }),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000,
        description: "changed decisions listed at most (and at most `playground.changesLimit`)",
      }),
    ),
  },
  { additionalProperties: false },
);

const ACTION = { type: "string", enum: ["allow", "deny", "review"] } as const;
const NULLABLE_STRING = { type: ["string", "null"] } as const;

const DIAGNOSTICS = {
  type: "array",
  description: "the compiler's diagnostics, as `clearance check` reports them, as data",
  items: diagnosticDataSchema,
} as const;

const SIDE = {
  type: "object",
  properties: { decision: ACTION, rule: NULLABLE_STRING, reason: { type: "string" } },
} as const;

const DECIDE_ANSWER = {
  type: "object",
  properties: {
    diagnostics: DIAGNOSTICS,
    candidate: {
      type: ["object", "null"],
      description: "the candidate's decision with its explanation; null when it does not compile",
      properties: {
        decision: ACTION,
        rule: NULLABLE_STRING,
        reason: { type: "string" },
        matched: { type: "array", items: { type: "string" } },
        monitored: { type: "array", items: { type: "string" } },
        errors: { type: "array", items: { type: "object", additionalProperties: true } },
        explain: { type: "object", additionalProperties: true },
      },
    },
    live: {
      type: "object",
      description: "the live rules' decision of the same input at the same time",
      properties: {
        decision: ACTION,
        rule: NULLABLE_STRING,
        reason: { type: "string" },
        matched: { type: "array", items: { type: "string" } },
        revision: { type: "string" },
      },
    },
    input: {
      type: "object",
      properties: {
        sha256: { type: "string" },
        fileName: NULLABLE_STRING,
        auditId: NULLABLE_STRING,
        now: { type: "string", format: "date-time" },
      },
    },
  },
} as const;

const COUNTS = {
  type: "object",
  properties: {
    allow: { type: "integer" },
    deny: { type: "integer" },
    review: { type: "integer" },
  },
} as const;

const DRY_RUN_ANSWER = {
  type: "object",
  properties: {
    diagnostics: DIAGNOSTICS,
    ran: { type: "boolean", description: "false when the candidate does not compile" },
    period: {
      type: "object",
      properties: {
        from: { type: "string", format: "date-time" },
        to: { type: "string", format: "date-time" },
        now: { type: "string", format: "date-time" },
      },
    },
    baseline: { type: "object", properties: { revision: { type: "string" } } },
    totals: {
      type: "object",
      properties: {
        read: { type: "integer" },
        decided: { type: "integer" },
        invalid: { type: "integer" },
        malformed: { type: "integer" },
      },
    },
    truncated: { type: "boolean" },
    outcomes: { type: "object", properties: { live: COUNTS, candidate: COUNTS } },
    transitions: {
      type: "array",
      description: "all nine pairs: `from` the live rules' decision, `to` the candidate's",
      items: {
        type: "object",
        properties: { from: ACTION, to: ACTION, count: { type: "integer" } },
      },
    },
    changed: { type: "integer" },
    changes: {
      type: "array",
      items: {
        type: "object",
        properties: {
          auditId: { type: "string" },
          sha256: { type: "string" },
          fileName: NULLABLE_STRING,
          before: SIDE,
          after: SIDE,
        },
      },
    },
    changesLimit: { type: "integer" },
    invalid: {
      type: "array",
      items: {
        type: "object",
        properties: {
          auditId: { type: "string" },
          problems: {
            type: "array",
            items: {
              type: "object",
              properties: { pointer: { type: "string" }, message: { type: "string" } },
            },
          },
        },
      },
    },
  },
} as const;

export async function playgroundRoutes(fastify: FastifyInstance): Promise<void> {
  const { playground, config } = fastify.clearance;
  const route = {
    bodyLimit: config.playground.bodyLimit,
    config: { scopes: ["audit:read"] as const, bodyLimitName: "`playground.bodyLimit`" },
  };

  fastify.post<{ Body: Static<typeof DECIDE_BODY> }>(
    "/v1/playground/decide",
    {
      ...route,
      schema: {
        summary: "Decide one input with candidate rules, beside the live rules",
        description:
          "Compiles the files sent (never made live) and decides `input`, or the stored input of the audit entry `auditId`, with them and with the live rules. A candidate that does not compile is answered 200 with its diagnostics and `candidate: null`. Nothing is recorded.",
        tags: ["playground"],
        security: [{ bearer: [] }],
        body: DECIDE_BODY,
        response: {
          200: DECIDE_ANSWER,
          ...problemResponses(400, 401, 403, 404, 413, 415, 422, 503),
        },
      },
    },
    async (request) => playground.decide(request.body),
  );

  fastify.post<{ Body: Static<typeof DRY_RUN_BODY> }>(
    "/v1/playground/dry-run",
    {
      ...route,
      schema: {
        summary: "Replay a period of recorded decisions with candidate rules",
        description:
          "Decides the stored input of every decision recorded in [`from`, `to`) again, with the candidate and with the live rules, each decision once (as `clearance dry-run --from audit:` does), at one evaluation time: the transition matrix, the outcomes and the decisions that change. Nothing is recorded.",
        tags: ["playground"],
        security: [{ bearer: [] }],
        body: DRY_RUN_BODY,
        response: {
          200: DRY_RUN_ANSWER,
          ...problemResponses(400, 401, 403, 413, 415, 422, 503),
        },
      },
    },
    async (request) => playground.dryRun(request.body),
  );
}
