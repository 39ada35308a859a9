// JSON Schemas shared by the routes: they validate requests, serialise answers quickly, and are
// what /openapi.json (and so docs/http-api.md) is generated from.
import { type Static, Type } from "@clearance/options";
import { type AuditEntry, DECISION_SOURCES } from "../audit/entry.js";
import { DECISION, nullableString, RULE_ERROR, type Same, TIME } from "../wire.js";

export const SHA256 = { type: "string", pattern: "^[0-9a-fA-F]{64}$" } as const;
export { DECISION } from "../wire.js";
/** A compiler diagnostic as data (`DiagnosticData` of @clearance/dsl): reload errors, the playground. */
export const diagnosticDataSchema = {
  type: "object",
  required: [
    "code",
    "severity",
    "message",
    "help",
    "file",
    "line",
    "column",
    "endLine",
    "endColumn",
    "span",
    "frame",
  ],
  properties: {
    code: { type: "string", description: "stable: docs/diagnostics.md" },
    severity: { type: "string", enum: ["error", "warning", "info"] },
    message: { type: "string" },
    help: { type: ["string", "null"] },
    file: { type: "string" },
    line: { type: "integer", description: "1-based" },
    column: { type: "integer", description: "1-based, in UTF-16 code units" },
    endLine: { type: "integer" },
    endColumn: { type: "integer" },
    span: {
      type: "object",
      description: "UTF-16 offsets into the file's text",
      properties: { start: { type: "integer" }, end: { type: "integer" } },
    },
    frame: {
      type: "string",
      description:
        "the diagnostic as `clearance check` prints it, code frame included, without colour",
    },
  },
} as const;

export const problemSchema = {
  $id: "Problem",
  type: "object",
  description:
    "RFC 9457 problem document; `code` is stable, `problems` point into the request body",
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    code: { type: "string" },
    detail: { type: "string" },
    instance: { type: "string" },
    problems: {
      type: "array",
      items: {
        type: "object",
        properties: { pointer: { type: "string" }, message: { type: "string" } },
      },
    },
  },
  required: ["type", "title", "status", "code", "detail"],
} as const;

// The decision request and answer are the service's types too: they are declared in wire.ts.
export {
  BATCH_ANSWER as batchAnswerSchema,
  BATCH_BODY as batchRequestSchema,
  DECISION_ANSWER as decisionAnswerSchema,
  DECISION_BODY as decisionBodySchema,
  DECISION_REQUEST as decisionRequestSchema,
  IDEMPOTENCY_HEADERS,
} from "../wire.js";

/** An audit entry as the API shows it (its `explain` is sent apart). */
export const entrySchema = Type.Object({
  id: Type.Optional(Type.String()),
  chain: Type.Optional(Type.String()),
  seq: Type.Optional(Type.Integer()),
  time: Type.Optional(TIME),
  source: Type.Optional(Type.Enum([...DECISION_SOURCES], { type: "string" })),
  requester: Type.Optional(nullableString()),
  sha256: Type.Optional(Type.String()),
  fileName: Type.Optional(nullableString()),
  decision: Type.Optional(DECISION),
  rule: Type.Optional(nullableString()),
  reason: Type.Optional(Type.String()),
  matched: Type.Optional(Type.Array(Type.String())),
  monitored: Type.Optional(Type.Array(Type.String())),
  errors: Type.Optional(Type.Array(RULE_ERROR)),
  ruleset: Type.Optional(
    Type.Object({
      revision: Type.Optional(Type.String()),
      commit: Type.Optional(nullableString()),
      dirty: Type.Optional(Type.Boolean()),
    }),
  ),
  latencyUs: Type.Optional(Type.Number()),
  inputHash: Type.Optional(Type.String()),
  shadow: Type.Optional(
    Type.Unsafe<{ decision?: string; rule?: string | null; revision?: string } | null>({
      type: ["object", "null"],
      properties: {
        decision: { type: "string" },
        rule: { type: ["string", "null"] },
        revision: { type: "string" },
        error: {
          type: "object",
          description: "why the shadow rule set failed, when `decision` is `error`",
          properties: { code: { type: "string" }, message: { type: "string" } },
        },
      },
    }),
  ),
  deliveryId: Type.Optional(nullableString()),
  approvalForbiddenBy: Type.Optional(Type.Array(Type.String())),
  exception: Type.Optional(nullableString("the exception the deciding rule read")),
  case: Type.Optional(nullableString("the review case the decision opened or joined")),
  prevHash: Type.Optional(Type.String()),
  hash: Type.Optional(Type.String()),
});

// An entry field the schema does not name would be dropped from every answer without a word:
// the build fails here instead.
const entryFieldsAgree: Same<
  Exclude<keyof AuditEntry, "explain">,
  keyof Static<typeof entrySchema>
> = true;
const entryTypesAgree: Omit<AuditEntry, "explain"> extends Static<typeof entrySchema>
  ? true
  : false = true;
void [entryFieldsAgree, entryTypesAgree];

/** The filter of `GET /v1/audit` and `GET /v1/audit/export`. */
export const auditFilterSchema = Type.Object(
  {
    sha256: Type.Optional(Type.Unsafe<string>(SHA256)),
    decision: Type.Optional(DECISION),
    rule: Type.Optional(Type.String({ minLength: 1 })),
    source: Type.Optional(Type.Enum([...DECISION_SOURCES], { type: "string" })),
    requester: Type.Optional(Type.String({ minLength: 1 })),
    fileName: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: "part of the file name; ASCII letters match in any case",
      }),
    ),
    from: Type.Optional(Type.Unsafe<string>({ ...TIME, description: "inclusive" })),
    to: Type.Optional(Type.Unsafe<string>({ ...TIME, description: "exclusive" })),
  },
  { additionalProperties: false },
);

export function problemResponses(...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((s) => [s, { $ref: "Problem#" }]));
}
