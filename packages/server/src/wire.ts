// The decision API's request and answer, declared once with TypeBox. Each declaration is the JSON
// Schema the routes validate and serialise with (and so /openapi.json and docs/http-api.md), and
// its `Static<>` is the TypeScript type the routes and the decision service use.
import { INPUT_FORMATS } from "@clearance/engine";
import { type Static, Type } from "@clearance/options";
import type { DecisionAnswer } from "./decide.js";

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
