import { parseDuration } from "@clearance/dsl";
import type { Static } from "@clearance/options";
import type { FastifyInstance } from "fastify";
import type { AuditEntry } from "../../audit/entry.js";
import { ID_PATTERN } from "../../audit/ids.js";
import { answerOf } from "../../decide.js";
import {
  CASE_VIEW,
  DECISION_ANSWER,
  EXCEPTION_BODY,
  EXCEPTION_VIEW,
  REVIEW_POLICY_VIEW,
  REVOKE_BODY,
  VOTE_BODY,
  VOTE_VIEW,
} from "../../wire.js";
import { ProblemError } from "../problems.js";
import { entrySchema, problemResponses, SHA256 } from "../schemas.js";

const ID_PARAMS = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: ID_PATTERN } },
} as const;

const CASES_QUERY = {
  type: "object",
  additionalProperties: false,
  properties: {
    status: {
      type: "string",
      enum: ["open", "resolved", "withdrawn", "expired", "all"],
      default: "open",
    },
    sha256: SHA256,
    rule: { type: "string", minLength: 1 },
    olderThan: {
      type: "string",
      pattern: "^([0-9]+(ms|[smhdw]))+$",
      description: "only cases open at least this long (`1h`, `2d`)",
    },
    limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
    cursor: {
      type: "string",
      pattern: ID_PATTERN,
      description: "`nextCursor` of the previous page",
    },
  },
} as const;

const EXCEPTIONS_QUERY = {
  type: "object",
  additionalProperties: false,
  properties: {
    state: { type: "string", enum: ["active", "revoked", "expired", "all"], default: "active" },
    sha256: SHA256,
    kind: { type: "string", enum: ["file", "signer", "vendor"] },
    case: { type: "string", pattern: ID_PATTERN },
  },
} as const;

/** A decision entry in a case's listing: what, when, for whom; not its explanation. */
function brief(e: AuditEntry) {
  return {
    decisionId: e.id,
    time: e.time,
    decision: e.decision,
    rule: e.rule,
    reason: e.reason,
    source: e.source,
    requester: e.requester,
    exception: e.exception ?? null,
    case: e.case ?? null,
  };
}

const BRIEF = {
  type: "object",
  properties: {
    decisionId: { type: "string" },
    time: { type: "string" },
    decision: { type: "string" },
    rule: { type: ["string", "null"] },
    reason: { type: "string" },
    source: { type: "string" },
    requester: { type: ["string", "null"] },
    exception: { type: ["string", "null"] },
    case: { type: ["string", "null"] },
  },
} as const;

const VOTE_ANSWER = {
  type: "object",
  properties: {
    vote: VOTE_VIEW,
    replayed: { type: "boolean" },
    case: CASE_VIEW,
    exception: { anyOf: [EXCEPTION_VIEW, { type: "null" }] },
    decision: { anyOf: [DECISION_ANSWER, { type: "null" }] },
  },
} as const;

/** Decisions on one file read for a case: the log's newest this many. */
const FILE_HISTORY = 1_000;

export async function reviewRoutes(fastify: FastifyInstance): Promise<void> {
  const { reviews, audit } = fastify.clearance;
  const review = { scopes: ["review"] as const };

  fastify.get<{
    Querystring: {
      status: "open" | "resolved" | "withdrawn" | "expired" | "all";
      sha256?: string;
      rule?: string;
      olderThan?: string;
      limit: number;
      cursor?: string;
    };
  }>(
    "/v1/reviews",
    {
      config: review,
      schema: {
        summary: "List review cases, oldest first",
        description:
          "Open cases by default, from memory; other statuses are read from the audit log. Page with `cursor`.",
        tags: ["reviews"],
        security: [{ bearer: [] }, { session: [] }],
        querystring: CASES_QUERY,
        response: {
          200: {
            type: "object",
            properties: {
              cases: { type: "array", items: CASE_VIEW },
              nextCursor: { type: ["string", "null"] },
            },
          },
          ...problemResponses(400, 401, 403, 404, 503),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const olderThanMs = q.olderThan === undefined ? undefined : parseDuration(q.olderThan);
      if (q.olderThan !== undefined && olderThanMs === undefined)
        throw new ProblemError(
          "invalid_request",
          `\`olderThan\` \`${q.olderThan}\` is not a duration`,
          [
            {
              pointer: "querystring:/olderThan",
              message: "units from largest to smallest, each once",
            },
          ],
        );
      const cases = await reviews.listCases({
        status: q.status,
        limit: q.limit + 1,
        ...(q.sha256 === undefined ? {} : { sha256: q.sha256 }),
        ...(q.rule === undefined ? {} : { rule: q.rule }),
        ...(olderThanMs === undefined ? {} : { olderThanMs }),
        ...(q.cursor === undefined ? {} : { after: q.cursor }),
      });
      const more = cases.length > q.limit;
      const page = cases.slice(0, q.limit);
      return { cases: page, nextCursor: more ? page[page.length - 1]!.id : null };
    },
  );

  fastify.get(
    "/v1/reviews/policy",
    {
      config: review,
      schema: {
        summary:
          "The voting policy: what resolves a case, and the expiries an approval may ask for",
        description:
          "The server's `reviews` configuration as a reviewer needs it to vote (the console's vote form bounds its expiry with it).",
        tags: ["reviews"],
        security: [{ bearer: [] }, { session: [] }],
        response: { 200: REVIEW_POLICY_VIEW, ...problemResponses(401, 403, 404) },
      },
    },
    async () => reviews.policy(),
  );

  fastify.get<{ Params: { id: string } }>(
    "/v1/reviews/:id",
    {
      config: review,
      schema: {
        summary:
          "One review case: its decision, explanation, input, requests, votes and the file's other decisions",
        tags: ["reviews"],
        security: [{ bearer: [] }, { session: [] }],
        params: ID_PARAMS,
        response: {
          200: {
            type: "object",
            properties: {
              case: CASE_VIEW,
              decision: { type: ["object", "null"], properties: entrySchema.properties },
              explain: { type: ["object", "null"], additionalProperties: true },
              input: { type: ["object", "null"], additionalProperties: true },
              requests: { type: "array", items: BRIEF },
              fileDecisions: { type: "array", items: BRIEF },
            },
          },
          ...problemResponses(400, 401, 403, 404, 503),
        },
      },
    },
    async (request) => {
      const kase = await reviews.readCase(request.params.id);
      const [opening, history] = await Promise.all([
        audit.get(kase.decisionId),
        audit.query({ sha256: kase.sha256 }, FILE_HISTORY),
      ]);
      const { explain, ...decision } = opening?.entry ?? { explain: null };
      return {
        case: kase,
        decision: opening ? decision : null,
        explain: explain ?? null,
        input: opening?.input ?? null,
        requests: history.entries
          .filter((e) => e.case === kase.id)
          .reverse()
          .map(brief),
        fileDecisions: history.entries
          .filter((e) => e.case !== kase.id)
          .slice(0, 50)
          .map(brief),
      };
    },
  );

  fastify.post<{ Params: { id: string }; Body: Static<typeof VOTE_BODY> }>(
    "/v1/reviews/:id/votes",
    {
      config: review,
      schema: {
        summary: "Vote on a review case: approve or reject, with a justification",
        description:
          "Recorded in the audit log. When the votes reach the policy (`reviews`), the case is resolved: an exception is created and the file decided again at once (source `review`), and the answer carries both. The same vote sent again is answered as recorded (200, `replayed`).",
        tags: ["reviews"],
        security: [{ bearer: [] }, { session: [] }],
        params: ID_PARAMS,
        body: VOTE_BODY,
        response: {
          200: VOTE_ANSWER,
          201: VOTE_ANSWER,
          ...problemResponses(400, 401, 403, 404, 409, 503),
        },
      },
    },
    async (request, reply) => {
      const outcome = await reviews.vote(request.params.id, request.body, {
        key: request.requester,
        named: request.body.voter,
      });
      reply.code(outcome.replayed ? 200 : 201);
      return {
        vote: outcome.vote,
        replayed: outcome.replayed,
        case: outcome.case,
        exception: outcome.exception,
        decision: outcome.decision ? answerOf(outcome.decision) : null,
      };
    },
  );

  const exceptionsRead = { scopes: ["review", "exceptions"] as const };
  const exceptionsWrite = { scopes: ["exceptions"] as const };

  fastify.get<{
    Querystring: {
      state: "active" | "revoked" | "expired" | "all";
      sha256?: string;
      kind?: "file" | "signer" | "vendor";
      case?: string;
    };
  }>(
    "/v1/exceptions",
    {
      config: exceptionsRead,
      schema: {
        summary: "List exceptions, newest first",
        description:
          "Those in force by default (`state=active`); others are read from the audit log.",
        tags: ["exceptions"],
        security: [{ bearer: [] }, { session: [] }],
        querystring: EXCEPTIONS_QUERY,
        response: {
          200: {
            type: "object",
            properties: { exceptions: { type: "array", items: EXCEPTION_VIEW } },
          },
          ...problemResponses(400, 401, 403, 404, 503),
        },
      },
    },
    async (request) => {
      const q = request.query;
      return {
        exceptions: await reviews.listExceptions({
          state: q.state,
          ...(q.sha256 === undefined ? {} : { sha256: q.sha256 }),
          ...(q.kind === undefined ? {} : { kind: q.kind }),
          ...(q.case === undefined ? {} : { case: q.case }),
        }),
      };
    },
  );

  fastify.get<{ Params: { id: string } }>(
    "/v1/exceptions/:id",
    {
      config: exceptionsRead,
      schema: {
        summary: "One exception, in force or ended",
        tags: ["exceptions"],
        security: [{ bearer: [] }, { session: [] }],
        params: ID_PARAMS,
        response: { 200: EXCEPTION_VIEW, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => reviews.getException(request.params.id),
  );

  fastify.post<{ Body: Static<typeof EXCEPTION_BODY> }>(
    "/v1/exceptions",
    {
      config: exceptionsWrite,
      schema: {
        summary: "Create an exception directly, with a justification",
        description:
          "Recorded in the audit log; a file exception decides its file again at once. Needs the `exceptions` scope.",
        tags: ["exceptions"],
        security: [{ bearer: [] }, { session: [] }],
        body: EXCEPTION_BODY,
        response: { 201: EXCEPTION_VIEW, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      const { by, ...body } = request.body;
      const created = await reviews.createException(body, { key: request.requester, named: by });
      reply.code(201);
      return created;
    },
  );

  fastify.delete<{ Params: { id: string }; Body: Static<typeof REVOKE_BODY> }>(
    "/v1/exceptions/:id",
    {
      config: exceptionsWrite,
      schema: {
        summary: "Revoke an exception, with a justification",
        description:
          "Recorded in the audit log; the file is decided again without it. The body carries the justification.",
        tags: ["exceptions"],
        security: [{ bearer: [] }, { session: [] }],
        params: ID_PARAMS,
        body: REVOKE_BODY,
        response: { 200: EXCEPTION_VIEW, ...problemResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request) => {
      const { by, ...body } = request.body;
      return reviews.revokeException(request.params.id, body, {
        key: request.requester,
        named: by,
      });
    },
  );
}
