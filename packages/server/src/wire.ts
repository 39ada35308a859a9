// The decision API's request and answer, declared once with TypeBox. Each declaration is the JSON
// Schema the routes validate and serialise with (and so /openapi.json and docs/http-api.md), and
// its `Static<>` is the TypeScript type the routes and the decision service use.
import { INPUT_FORMATS } from "@clearance/engine";
import { type Static, Type } from "@clearance/options";
import type { DecisionAnswer } from "./decide.js";
import type { CaseView, ExceptionView, ReviewPolicyView, VoteView } from "./reviews.js";

export const DECISION = Type.Enum(["allow", "deny", "review"], { type: "string" });
export const TIME = Type.Unsafe<string>({ type: "string", format: "date-time" });

/** Any JSON object, checked by the service (a result, a context), typed `unknown` until then. */
const freeObject = (description?: string) =>
  Type.Unsafe<unknown>({
    type: "object",
    additionalProperties: true,
    ...(description === undefined ? {} : { description }),
  });

/** A string, or null. */
export const nullableString = (description?: string) =>
  Type.Unsafe<string | null>({
    type: ["string", "null"],
    ...(description === undefined ? {} : { description }),
  });

/** A rule's run-time error in an answer. */
export const RULE_ERROR = Type.Object({
  rule: Type.Optional(Type.String()),
  /** a run-time error code (docs/language.md, "Run-time errors and `on-error`") */
  code: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  monitor: Type.Optional(Type.Boolean()),
});

/** The rule set that decided. */
export const RULESET_REF = Type.Object({
  revision: Type.Optional(Type.String()),
  commit: Type.Optional(nullableString()),
});

/** What `POST /v1/decisions` takes (less `source`), one item of a batch, and the service's input. */
export const DECISION_REQUEST = Type.Object(
  {
    result: freeObject("a canonical analysis result or a VirusTotal v3 file object (detected)"),
    context: Type.Optional(freeObject("values for the fields the rules declare with `context`")),
    explain: Type.Optional(
      Type.Boolean({ default: false, description: "include every rule's outcome" }),
    ),
    format: Type.Optional(
      Type.Enum([...INPUT_FORMATS], { type: "string", description: "skip format detection" }),
    ),
  },
  { additionalProperties: false },
);
export type DecisionRequest = Static<typeof DECISION_REQUEST>;

/** The body of `POST /v1/decisions`: a decision request and where it comes from. */
export const DECISION_BODY = Type.Object(
  {
    ...DECISION_REQUEST.properties,
    source: Type.Optional(
      Type.Enum(["api", "gate"], {
        type: "string",
        default: "api",
        description: "recorded in the audit log: `gate` for CI gates (`clearance gate`)",
      }),
    ),
  },
  { additionalProperties: false },
);

/** The headers both decision routes take: `Idempotency-Key` makes sending a request again safe. */
export const IDEMPOTENCY_HEADERS = Type.Object({
  "idempotency-key": Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: "^[\\x21-\\x7e]+$",
      description:
        "makes sending the request again safe: what was recorded under this key (and this API key) is answered as recorded, not decided again; printable ASCII, at most 255 characters, kept 24 h",
    }),
  ),
});

/** The body of `POST /v1/decisions/batch`. */
export const BATCH_BODY = Type.Object(
  { items: Type.Array(DECISION_REQUEST, { minItems: 1 }) },
  { additionalProperties: false },
);

/**
 * One decision as the API answers it. Every field is optional here, as it always was in the
 * schema: the serialiser writes what the service gives. `DecisionAnswer` is the service's
 * (stricter) type; the check below keeps the two to the same fields.
 */
export const DECISION_ANSWER = Type.Object({
  decisionId: Type.Optional(Type.String({ description: "the audit entry id (UUIDv7)" })),
  sha256: Type.Optional(Type.String()),
  fileName: Type.Optional(nullableString()),
  decision: Type.Optional(DECISION),
  reason: Type.Optional(Type.String()),
  rule: Type.Optional(nullableString("the deciding rule; null when the default decided")),
  matched: Type.Optional(Type.Array(Type.String())),
  monitored: Type.Optional(Type.Array(Type.String())),
  errors: Type.Optional(Type.Array(RULE_ERROR)),
  ruleset: Type.Optional(RULESET_REF),
  evaluatedAt: Type.Optional(TIME),
  warnings: Type.Optional(Type.Array(Type.String())),
  explain: Type.Optional(freeObject()),
  approvalForbiddenBy: Type.Optional(
    Type.Array(Type.String(), {
      description:
        "the `forbid-approval` rules that matched: the case can be rejected, not approved",
    }),
  ),
  exception: Type.Optional(Type.String({ description: "the exception the deciding rule read" })),
  case: Type.Optional(
    Type.String({ description: "the review case this `review` decision opened or joined" }),
  ),
});

/** A batch item that could not be decided, in place of its decision. */
export const ITEM_ERROR = Type.Object({
  code: Type.Optional(Type.String()),
  detail: Type.Optional(Type.String()),
  problems: Type.Optional(
    Type.Array(
      Type.Object({
        pointer: Type.Optional(Type.String()),
        message: Type.Optional(Type.String()),
      }),
    ),
  ),
});

/** The answer of `POST /v1/decisions/batch`: one decision or one error per item, in order. */
export const BATCH_ANSWER = Type.Object({
  items: Type.Optional(
    Type.Array(Type.Object({ ...DECISION_ANSWER.properties, error: Type.Optional(ITEM_ERROR) })),
  ),
});

// The service's answer has exactly the fields the answer schema declares, each of a type the
// schema accepts: a field added to one and not the other fails the build here.
/** `true` when two types are the same (as sets of values). */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const answerFieldsAgree: Same<keyof DecisionAnswer, keyof Static<typeof DECISION_ANSWER>> = true;
const answerTypesAgree: DecisionAnswer extends Static<typeof DECISION_ANSWER> ? true : false = true;
void [answerFieldsAgree, answerTypesAgree];

// Reviews (docs/reviews.md): votes, exceptions and the cases they answer.

export const EXCEPTION_KIND_NAME = Type.Enum(["file", "signer", "vendor"], { type: "string" });
export const EXCEPTION_STATUS = Type.Enum(["approved", "rejected"], { type: "string" });

/** An RFC 3339 time, or null for an exception that never expires (only with `allowNoExpiry`). */
const EXPIRES = Type.Unsafe<string | null>({
  type: ["string", "null"],
  description:
    "RFC 3339 time when the exception ends; null never (only with `reviews.exceptionExpiry.allowNoExpiry`); default `reviews.exceptionExpiry.default` from now",
});

/** What an approval asks the exception to cover, and until when. */
export const EXCEPTION_REQUEST = Type.Object(
  {
    kind: Type.Optional(
      Type.Enum(["file", "signer", "vendor"], {
        type: "string",
        default: "file",
        description:
          "the file only, every file signed with its certificate, or its vendor's product; broader kinds need `reviews.broaderScopeApprovals` approvals",
      }),
    ),
    expires: Type.Optional(EXPIRES),
  },
  { additionalProperties: false },
);

/** The body of `POST /v1/reviews/{id}/votes`. */
export const VOTE_BODY = Type.Object(
  {
    vote: Type.Enum(["approve", "reject"], { type: "string" }),
    justification: Type.String({ minLength: 1, maxLength: 4_000, description: "why; required" }),
    voter: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description:
          "who votes: required on a server without API keys (one person on loopback); with keys the voter is the key, and this must name it when given",
      }),
    ),
    exception: Type.Optional(EXCEPTION_REQUEST),
  },
  { additionalProperties: false },
);
export type VoteBody = Static<typeof VOTE_BODY>;

/** What an exception covers. */
export const EXCEPTION_SCOPE = Type.Union([
  Type.Object(
    { sha256: Type.String({ pattern: "^[0-9a-fA-F]{64}$" }) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      signer: Type.String({ minLength: 1, maxLength: 256, description: "certificate thumbprint" }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      vendor: Type.String({ minLength: 1, maxLength: 256 }),
      product: Type.String({ minLength: 1, maxLength: 256 }),
    },
    { additionalProperties: false },
  ),
]);

/** The body of `POST /v1/exceptions`: an exception an admin creates directly. */
export const EXCEPTION_BODY = Type.Object(
  {
    status: EXCEPTION_STATUS,
    scope: EXCEPTION_SCOPE,
    context: Type.Optional(
      Type.Record(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }), Type.String(), {
        description: "applies only to requests whose context has these values",
      }),
    ),
    expires: Type.Optional(EXPIRES),
    justification: Type.String({ minLength: 1, maxLength: 4_000 }),
    by: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "as `voter`" })),
  },
  { additionalProperties: false },
);
export type ExceptionBody = Static<typeof EXCEPTION_BODY>;

/** The body of `DELETE /v1/exceptions/{id}`. */
export const REVOKE_BODY = Type.Object(
  {
    justification: Type.String({ minLength: 1, maxLength: 4_000 }),
    by: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "as `voter`" })),
  },
  { additionalProperties: false },
);
export type RevokeBody = Static<typeof REVOKE_BODY>;

/** An exception, as `/v1/exceptions` answers it. */
export const EXCEPTION_VIEW = Type.Object({
  id: Type.String(),
  status: EXCEPTION_STATUS,
  kind: EXCEPTION_KIND_NAME,
  scope: Type.Unsafe<ExceptionView["scope"]>({
    type: "object",
    description: "`{sha256}`, `{signer}` (a certificate thumbprint) or `{vendor, product}`",
    additionalProperties: { type: "string" },
  }),
  context: Type.Unsafe<Record<string, string> | null>({
    type: ["object", "null"],
    additionalProperties: { type: "string" },
  }),
  created: TIME,
  expires: nullableString("null: never expires"),
  approvers: Type.Array(Type.String()),
  justification: Type.String(),
  case: nullableString("the review case that yielded it; null when created directly"),
  createdBy: nullableString("who created it directly"),
  state: Type.Enum(["active", "revoked", "expired"], { type: "string" }),
  ended: Type.Unsafe<ExceptionView["ended"]>({
    type: ["object", "null"],
    properties: {
      time: { type: "string", format: "date-time" },
      by: { type: ["string", "null"] },
      justification: { type: ["string", "null"] },
    },
  }),
});

/** A vote, as recorded. */
export const VOTE_VIEW = Type.Object({
  id: Type.String(),
  time: TIME,
  caseId: Type.String(),
  voter: Type.String(),
  vote: Type.Enum(["approve", "reject"], { type: "string" }),
  justification: Type.String(),
  exception: Type.Unsafe<VoteView["exception"]>({
    type: ["object", "null"],
    properties: { kind: { type: "string" }, expires: { type: ["string", "null"] } },
  }),
});

/** A review case, as `/v1/reviews` answers it. */
export const CASE_VIEW = Type.Object({
  id: Type.String({ description: "the case id (UUIDv7)" }),
  sha256: Type.String(),
  fileName: nullableString(),
  status: Type.Enum(["open", "resolved", "withdrawn", "expired"], { type: "string" }),
  opened: TIME,
  expires: TIME,
  closed: nullableString(),
  decisionId: Type.String({ description: "the decision that opened the case" }),
  rule: nullableString("the rule that asked for review"),
  reason: Type.String(),
  requester: nullableString("the API key that asked first"),
  context: Type.Record(Type.String(), Type.String(), {
    description: "the request-context fields that scope the case (`reviews.caseScope`)",
  }),
  approvalForbiddenBy: Type.Array(Type.String()),
  signer: nullableString("the thumbprint of the file's valid signature"),
  vendor: Type.Unsafe<CaseView["vendor"]>({
    type: ["object", "null"],
    properties: { name: { type: "string" }, product: { type: "string" } },
  }),
  outcome: Type.Unsafe<CaseView["outcome"]>({
    type: ["string", "null"],
    enum: ["approved", "rejected", null],
  }),
  exception: nullableString("the exception a resolved case yielded"),
  votes: Type.Array(VOTE_VIEW),
  waitingFor: nullableString("what an open case's votes still need"),
  history: Type.Array(
    Type.Object({
      id: Type.String(),
      time: TIME,
      event: Type.String(),
      detail: Type.Unsafe<Record<string, unknown>>({ type: "object", additionalProperties: true }),
    }),
  ),
});

/** `GET /v1/reviews/policy`: what a reviewer votes under (the `reviews` configuration). */
export const REVIEW_POLICY_VIEW = Type.Object({
  approvalsRequired: Type.Integer({ description: "approvals that resolve a case for the file" }),
  broaderScopeApprovals: Type.Integer({
    description: "approvals asking for a signer or vendor exception that resolve a case with one",
  }),
  rejectionVetoes: Type.Boolean({ description: "one rejection resolves a case rejected" }),
  selfApproval: Type.Boolean({
    description: "whether a key that asked about a file may approve it",
  }),
  caseExpiry: Type.String({ description: "how long a case waits for an answer (`7d`)" }),
  exceptionExpiry: Type.Object({
    default: Type.String({ description: "the expiry an approval asks for when it names none" }),
    defaultMs: Type.Integer({ description: "`default` in milliseconds" }),
    max: Type.String({ description: "the furthest expiry an approval may ask for" }),
    maxMs: Type.Integer({ description: "`max` in milliseconds" }),
    allowNoExpiry: Type.Boolean({ description: "whether an approval may ask for no expiry" }),
  }),
});
const policyFieldsAgree: Same<keyof ReviewPolicyView, keyof Static<typeof REVIEW_POLICY_VIEW>> =
  true;

const caseFieldsAgree: Same<keyof CaseView, keyof Static<typeof CASE_VIEW>> = true;
const exceptionFieldsAgree: Same<keyof ExceptionView, keyof Static<typeof EXCEPTION_VIEW>> = true;
const voteFieldsAgree: Same<keyof VoteView, keyof Static<typeof VOTE_VIEW>> = true;
void [caseFieldsAgree, exceptionFieldsAgree, voteFieldsAgree, policyFieldsAgree];
