// JSON Schemas shared by the routes: they validate requests, serialise answers quickly, and are
// what /openapi.json (and so docs/http-api.md) is generated from.
import { DECISION_SOURCES } from "../audit/entry.js";
import { DECISION, RULE_ERROR, TIME } from "../wire.js";

export const SHA256 = { type: "string", pattern: "^[0-9a-fA-F]{64}$" } as const;
export { DECISION } from "../wire.js";
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
} from "../wire.js";

export const entrySchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    chain: { type: "string" },
    seq: { type: "integer" },
    time: TIME,
    source: { type: "string", enum: [...DECISION_SOURCES] },
    requester: { type: ["string", "null"] },
    sha256: { type: "string" },
    fileName: { type: ["string", "null"] },
    decision: DECISION,
    rule: { type: ["string", "null"] },
    reason: { type: "string" },
    matched: { type: "array", items: { type: "string" } },
    monitored: { type: "array", items: { type: "string" } },
    errors: { type: "array", items: RULE_ERROR },
    ruleset: {
      type: "object",
      properties: {
        revision: { type: "string" },
        commit: { type: ["string", "null"] },
        dirty: { type: "boolean" },
      },
    },
    latencyUs: { type: "number" },
    inputHash: { type: "string" },
    shadow: {
      type: ["object", "null"],
      properties: {
        decision: { type: "string" },
        rule: { type: ["string", "null"] },
        revision: { type: "string" },
      },
    },
    deliveryId: { type: ["string", "null"] },
    prevHash: { type: "string" },
    hash: { type: "string" },
  },
} as const;

export const auditFilterSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    sha256: SHA256,
    decision: DECISION,
    rule: { type: "string", minLength: 1 },
    source: { type: "string", enum: [...DECISION_SOURCES] },
    requester: { type: "string", minLength: 1 },
    from: { ...TIME, description: "inclusive" },
    to: { ...TIME, description: "exclusive" },
  },
} as const;

export function problemResponses(...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((s) => [s, { $ref: "Problem#" }]));
}
