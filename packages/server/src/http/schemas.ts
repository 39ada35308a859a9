// JSON Schemas shared by the routes: they validate requests, serialise answers quickly, and are
// what /openapi.json (and so docs/http-api.md) is generated from.
import { INPUT_FORMATS } from "@clearance/engine";
import { DECISION_SOURCES } from "../audit/entry.js";

export const SHA256 = { type: "string", pattern: "^[0-9a-fA-F]{64}$" } as const;
export const DECISION = { type: "string", enum: ["allow", "deny", "review"] } as const;
const TIME = { type: "string", format: "date-time" } as const;
const FREE_OBJECT = { type: "object", additionalProperties: true } as const;

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

const ruleError = {
  type: "object",
  properties: {
    rule: { type: "string" },
    /** a run-time error code (docs/language.md, "Run-time errors and `on-error`") */
    code: { type: "string" },
    message: { type: "string" },
    monitor: { type: "boolean" },
  },
} as const;

const rulesetRef = {
  type: "object",
  properties: { revision: { type: "string" }, commit: { type: ["string", "null"] } },
} as const;

export const decisionRequestSchema = {
  type: "object",
  required: ["result"],
  additionalProperties: false,
  properties: {
    result: {
      ...FREE_OBJECT,
      description: "a canonical analysis result or a VirusTotal v3 file object (detected)",
    },
    context: {
      ...FREE_OBJECT,
      description: "values for the fields the rules declare with `context`",
    },
    explain: { type: "boolean", default: false, description: "include every rule's outcome" },
    format: { type: "string", enum: [...INPUT_FORMATS], description: "skip format detection" },
  },
} as const;

export const decisionAnswerSchema = {
  type: "object",
  properties: {
    decisionId: { type: "string", description: "the audit entry id (UUIDv7)" },
    sha256: { type: "string" },
    fileName: { type: ["string", "null"] },
    decision: DECISION,
    reason: { type: "string" },
    rule: {
      type: ["string", "null"],
      description: "the deciding rule; null when the default decided",
    },
    matched: { type: "array", items: { type: "string" } },
    monitored: { type: "array", items: { type: "string" } },
    errors: { type: "array", items: ruleError },
    ruleset: rulesetRef,
    evaluatedAt: TIME,
    warnings: { type: "array", items: { type: "string" } },
    explain: FREE_OBJECT,
  },
} as const;

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
    errors: { type: "array", items: ruleError },
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
        error: {
          type: "object",
          description: "why the shadow rule set failed, when `decision` is `error`",
          properties: { code: { type: "string" }, message: { type: "string" } },
        },
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
