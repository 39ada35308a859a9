// Services throw domain errors; the HTTP layer alone knows how they are answered.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, test } from "vitest";
import * as backend from "../src/audit/backend.js";
import * as errors from "../src/errors.js";
import { DOMAIN_PROBLEMS, PROBLEMS, problemOf } from "../src/http/problems.js";

const { DomainError } = errors;
const SRC = join(import.meta.dirname, "../src");

/** Every domain error class the server's modules export, abstract ones aside. */
const exported = [...Object.values(errors), ...Object.values(backend)].filter(
  (v): v is abstract new (...args: never[]) => errors.DomainError =>
    typeof v === "function" && v.prototype instanceof DomainError,
);
const ABSTRACT = new Set<unknown>([errors.InvalidInputError]);

const problems = [{ pointer: "/result/sha256", message: "is required" }];
const CASES: [error: errors.DomainError, code: string, status: number, retryAfter?: string][] = [
  [new errors.InvalidRequestError("bad header"), "invalid_request", 400],
  [new errors.InvalidResultError("bad result", problems), "invalid_result", 400],
  [new errors.InvalidContextError("bad context", problems), "invalid_context", 400],
  [new errors.NotFoundError("none"), "not_found", 404],
  [new errors.InvalidSignatureError("bad signature"), "invalid_signature", 401],
  [new errors.StaleTimestampError("old"), "stale_timestamp", 401],
  [new errors.ReplayedDeliveryError("again"), "replayed_delivery", 409],
  [new errors.IdempotencyKeyReusedError("other body"), "idempotency_key_reused", 422],
  [new errors.IdempotencyKeyInUseError("held"), "idempotency_key_in_use", 409, "1"],
  [new errors.ServerBusyError("full", 7), "server_busy", 503, "7"],
  [new errors.PlatformUnavailableError("down", 5), "platform_unavailable", 503, "5"],
  [new errors.PlatformRefusedError("no"), "platform_error", 502],
  [new errors.PlatformResultInvalidError("bad", problems), "platform_result_invalid", 502],
  [
    new errors.InvalidReviewError("a vote needs a justification", [
      { pointer: "/justification", message: "must say why, in words" },
    ]),
    "invalid_review",
    400,
  ],
  [new errors.CaseClosedError("case `c` is resolved"), "case_closed", 409],
  [new errors.SelfApprovalError("`ci` asked about it itself"), "self_approval", 403],
  [new errors.ApprovalForbiddenError("it can only be rejected"), "approval_forbidden", 409],
  [new errors.AlreadyVotedError("`ana` voted `approve`"), "already_voted", 409],
  [new errors.ExceptionEndedError("exception `e` was revoked"), "exception_ended", 409],
  [new errors.ReviewsDisabledError("reviews are turned off"), "reviews_disabled", 404],
  [new errors.SignInRefusedError("no Clearance scope"), "sign_in_refused", 403],
  [new errors.IdentityProviderError("cannot reach it"), "identity_provider_error", 502],
  [
    new errors.PlaygroundTimeoutError("the candidate rules ran over the time limit"),
    "playground_timeout",
    422,
  ],
  [new errors.AgentUnauthorizedError("no token"), "agent_unauthorized", 401],
  [new errors.AgentForbiddenError("another group's token"), "agent_forbidden", 403],
  [new errors.TooManyEventsError("1001 events"), "batch_too_large", 413],
  [new backend.AuditUnavailableError("down"), "audit_unavailable", 503, "1"],
  [new backend.AuditDamagedError("damaged"), "audit_unavailable", 503, "1"],
];

describe("domain errors and their problems", () => {
  test.each(CASES)("%o is answered %s (%i)", (error, code, status, retryAfter) => {
    const p = problemOf(error);
    expect(p.code).toBe(code);
    expect(p.status).toBe(status);
    expect(p.detail).toBe(error.message);
    expect(p.problems).toEqual(error.problems);
    expect(p.headers).toEqual(retryAfter === undefined ? {} : { "retry-after": retryAfter });
  });

  test("every domain error class is in the table and in these cases", () => {
    const concrete = exported.filter((c) => !ABSTRACT.has(c));
    expect(concrete.length).toBeGreaterThan(10);
    for (const c of concrete) {
      expect(
        CASES.some(([e]) => e.constructor === c),
        c.name,
      ).toBe(true);
      const listed = DOMAIN_PROBLEMS.some(
        (r) => c === r.error || c.prototype instanceof (r.error as typeof DomainError),
      );
      expect(listed, c.name).toBe(true);
    }
    for (const r of DOMAIN_PROBLEMS) expect(PROBLEMS[r.code], r.code).toBeDefined();
  });

  test("an error class missing from the table is a bug named at once, not a 500 in disguise", () => {
    class Unlisted extends DomainError {}
    expect(() => problemOf(new Unlisted("x"))).toThrow(/`DOMAIN_PROBLEMS`/);
  });
});

describe("the HTTP layer is imported only where the server is assembled", () => {
  /** The public surface and the module that listens assemble the app; nothing else may. */
  const ASSEMBLY = new Set(["index.ts", "server.ts"]);

  function files(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? files(join(dir, e.name))
        : e.name.endsWith(".ts")
          ? [join(dir, e.name)]
          : [],
    );
  }
  const outside = files(SRC)
    .map((f) => relative(SRC, f))
    .filter((f) => !f.startsWith("http/") && !ASSEMBLY.has(f));

  test("the sweep sees the services", () => {
    expect(outside).toEqual(expect.arrayContaining(["decide.ts", "webhook.ts", "platform.ts"]));
  });

  test.each(outside)("%s imports nothing from `http/` and no HTTP framework", (file) => {
    const text = readFileSync(join(SRC, file), "utf8");
    const imports = [...text.matchAll(/\bfrom\s+"([^"]+)"|import\("([^"]+)"\)/g)].map(
      (m) => m[1] ?? m[2]!,
    );
    for (const spec of imports) {
      expect(spec, `${file} imports ${spec}`).not.toMatch(/(^|\/)http\//);
      expect(spec, `${file} imports ${spec}`).not.toMatch(/^(fastify|@fastify\/)/);
    }
  });
});
