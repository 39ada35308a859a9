import swagger from "@fastify/swagger";
import underPressure from "@fastify/under-pressure";
import { Ajv } from "ajv";
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawRequestDefaultExpression,
} from "fastify";
import fp from "fastify-plugin";
import { bearerToken, hasScope, isLoopback, type Scope } from "../auth.js";
import { DomainError } from "../errors.js";
import type { Services } from "../services.js";
import { VERSION } from "../version.js";
import { CONSOLE_DIR, consoleRoutes } from "./console.js";
import { bodyTooLarge, readJsonBody } from "./json-body.js";
import {
  PROBLEMS,
  type ProblemCode,
  type ProblemDetail,
  ProblemError,
  problemOf,
} from "./problems.js";
import { auditRoutes } from "./routes/audit.js";
import { decisionRoutes } from "./routes/decisions.js";
import { healthRoutes } from "./routes/health.js";
import { playgroundRoutes } from "./routes/playground.js";
import { reviewRoutes } from "./routes/reviews.js";
import { rulesetRoutes } from "./routes/ruleset.js";
import { santaRoutes } from "./routes/santa.js";
import { santaFleetRoutes } from "./routes/santa-fleet.js";
import { sessionRoutes } from "./routes/session.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { problemSchema } from "./schemas.js";
import {
  crossSiteRefusal,
  ENDED,
  STATE_CHANGING,
  sessionCookie,
  sessionOf,
  touch,
} from "./sessions.js";

declare module "fastify" {
  interface FastifyInstance {
    clearance: Services;
  }
  interface FastifyRequest {
    /**
     * who made the request: the API key id, or a signed-in person (`user:<name>`); null on an open
     * server (no keys, no sign-in)
     */
    requester: string | null;
    /** the JSON body as text, when it was parsed whole: stored as the input snapshot */
    rawJson?: string;
  }
  interface FastifyContextConfig {
    /** the request needs a key with any of these scopes (`admin` has them all) */
    scopes?: readonly Scope[];
    /** counts against `limits.inFlightPerKey` (the decision routes) */
    limitInFlight?: boolean;
    /**
     * what sets the route's `bodyLimit`, for the message that refuses a larger body (default
     * `` `server.bodyLimit` ``)
     */
    bodyLimitName?: string;
  }
}

export interface AppOptions {
  services: Services;
  /** the built web console served at `/` (when `console.enabled`); `CONSOLE_DIR` unless given */
  consoleDir?: string;
}

/** Turns a problem into an RFC 9457 answer. */
export function sendProblem(
  reply: FastifyReply,
  code: ProblemCode,
  detail: string,
  problems: readonly ProblemDetail[] = [],
  headers: Record<string, string> = {},
): FastifyReply {
  return reply.send(problemBody(reply, code, detail, problems, headers));
}

/** Sets the status, headers and content type of a problem answer; returns its body, unsent. */
function problemBody(
  reply: FastifyReply,
  code: ProblemCode,
  detail: string,
  problems: readonly ProblemDetail[] = [],
  headers: Record<string, string> = {},
): Record<string, unknown> {
  const { status, title } = PROBLEMS[code];
  reply.server.clearance.metrics.rejected.inc({ code });
  const body: Record<string, unknown> = {
    type: `https://clearance.dev/problems/${code.replaceAll("_", "-")}`,
    title,
    status,
    code,
    detail,
    instance: reply.request.url,
  };
  if (problems.length > 0) body.problems = problems;
  reply
    .code(status)
    .headers(headers)
    .type("application/problem+json; charset=utf-8")
    .serializer(JSON.stringify);
  return body;
}

function validationProblems(error: FastifyError): ProblemDetail[] {
  const where = error.validationContext === "body" ? "" : `${error.validationContext ?? ""}:`;
  return (error.validation ?? []).map((v) => {
    let pointer = v.instancePath;
    const params = v.params as Record<string, unknown>;
    if (v.keyword === "additionalProperties") pointer += `/${String(params.additionalProperty)}`;
    if (v.keyword === "required") pointer += `/${String(params.missingProperty)}`;
    const message =
      v.keyword === "additionalProperties"
        ? `unknown property \`${String(params.additionalProperty)}\``
        : v.keyword === "required"
          ? `\`${String(params.missingProperty)}\` is required`
          : v.keyword === "enum"
            ? `must be one of ${(params.allowedValues as unknown[]).map((a) => `\`${String(a)}\``).join(", ")}`
            : (v.message ?? "is invalid");
    return { pointer: `${where}${pointer}`, message };
  });
}

/**
 * A decision request is `{"result": <analysis result>, "context": ...}`. A result sent bare would
 * otherwise be answered with one problem per field of the result (`unknown property sha256`,
 * ...): where an object that lacks `result` has a `sha256`, its problems become one that says so.
 */
function unwrappedResults(problems: ProblemDetail[], body: unknown): ProblemDetail[] {
  const bare = new Set<string>();
  for (const p of problems) {
    if (!p.pointer.endsWith("/result") || p.message !== "`result` is required") continue;
    const at = p.pointer.slice(0, -"/result".length);
    if (hasSha256(at === "" ? body : pointerGet(body, at))) bare.add(at);
  }
  if (bare.size === 0) return problems;
  const out: ProblemDetail[] = [];
  for (const at of bare)
    out.push({
      pointer: `${at}/result`,
      message:
        '`result` is required: this object looks like an analysis result sent bare; send `{"result": <the result>}` (and `"context"` beside it if needed)',
    });
  for (const p of problems) {
    const owner = p.pointer.slice(0, p.pointer.lastIndexOf("/"));
    if (!bare.has(owner)) out.push(p);
  }
  return out;
}

function hasSha256(value: unknown): boolean {
  return typeof value === "object" && value !== null && "sha256" in value;
}

/** The value at a JSON Pointer made by the validator (array indexes and plain keys). */
function pointerGet(value: unknown, pointer: string): unknown {
  let v = value;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function handleError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error instanceof ProblemError)
    return sendProblem(reply, error.code, error.detail, error.problems, error.headers);
  // what a service refused, answered by the one table of domain errors (`DOMAIN_PROBLEMS`)
  if (error instanceof DomainError) {
    const p = problemOf(error);
    return sendProblem(reply, p.code, p.detail, p.problems, p.headers);
  }
  if (error.validation) {
    const problems = unwrappedResults(validationProblems(error), request.body);
    return sendProblem(
      reply,
      "invalid_request",
      problems.length === 1
        ? `\`${problems[0]!.pointer || "(body)"}\` ${problems[0]!.message}`
        : `${problems.length} problems with the request`,
      problems,
    );
  }
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return sendProblem(
        reply,
        "unsupported_media_type",
        `content type \`${request.headers["content-type"] ?? "(none)"}\` is not accepted: send \`application/json\``,
      );
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return sendProblem(
        reply,
        "body_too_large",
        bodyTooLarge(
          request.routeOptions.bodyLimit ?? request.server.clearance.config.server.bodyLimit,
          request.routeOptions.config.bodyLimitName,
        ),
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return sendProblem(reply, "malformed_json", "the body is empty; send a JSON object");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return sendProblem(reply, "invalid_request", "the Content-Length does not match the body");
  }
  if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/.test(error.message)))
    return sendProblem(reply, "malformed_json", `the body is not valid JSON: ${error.message}`);
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)
    return sendProblem(reply, "invalid_request", error.message);
  request.log.error({ err: error }, "unhandled error");
  return sendProblem(
    reply,
    "internal_error",
    "the server failed to handle the request; it is logged",
  );
}

/** Routes that answer under pressure: monitoring must see an overloaded server as it is. */
const NEVER_SHED = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * `@fastify/under-pressure`: above a threshold (`limits.pressure`), requests are answered `503
 * server_busy` with `Retry-After` before their body is read, except the health and metrics routes.
 */
async function registerLoadShedding(fastify: FastifyInstance, services: Services): Promise<void> {
  const p = services.config.limits.pressure;
  const retryAfter = String(p.retryAfterSeconds);
  const what: Record<string, (value: number) => string> = {
    eventLoopDelay: (v) =>
      `the event loop is delayed by ${Math.round(v)} ms (\`limits.pressure.maxEventLoopDelayMs\` is ${p.maxEventLoopDelayMs})`,
    heapUsedBytes: (v) =>
      `the heap holds ${v} bytes (\`limits.pressure.maxHeapUsedBytes\` is ${p.maxHeapUsedBytes})`,
    rssBytes: (v) =>
      `the process holds ${v} bytes (\`limits.pressure.maxRssBytes\` is ${p.maxRssBytes})`,
  };
  await fastify.register(underPressure, {
    maxEventLoopDelay: p.maxEventLoopDelayMs,
    maxHeapUsedBytes: p.maxHeapUsedBytes,
    maxRssBytes: p.maxRssBytes,
    retryAfter: p.retryAfterSeconds,
    pressureHandler: (request, reply, type, value) => {
      if (NEVER_SHED.has(request.routeOptions.url ?? "")) return; // answered as usual
      const why = what[type]?.(value ?? 0) ?? `the server is under pressure (${type})`;
      // a body returned here is sent by the plugin; its type says void, its code sends it
      return problemBody(reply, "server_busy", `${why}; retry in ${retryAfter} s`, [], {
        "retry-after": retryAfter,
      }) as unknown as undefined;
    },
  });
}

/**
 * At most `limit` decision requests in flight per API key (per client address without keys): one
 * client cannot hold every slot of the event loop and the audit queue. Counted from the request's
 * arrival (before its body is read) until its answer is sent or its connection closes.
 */
function limitInFlight(fastify: FastifyInstance, limit: number): void {
  const inFlight = new Map<string, number>();
  fastify.addHook("onRequest", async (request, reply) => {
    if (request.routeOptions.config.limitInFlight !== true) return;
    const who = request.requester === null ? `address ${request.ip}` : `key ${request.requester}`;
    const now = inFlight.get(who) ?? 0;
    if (now >= limit)
      return sendProblem(
        reply,
        "too_many_in_flight",
        `${request.requester === null ? `this client (\`${request.ip}\`)` : `this key (\`${request.requester}\`)`} has ${now} decision requests in flight; the limit is ${limit} (\`limits.inFlightPerKey\`)`,
        [],
        { "retry-after": "1" },
      );
    inFlight.set(who, now + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (inFlight.get(who) ?? 1) - 1;
      if (left <= 0) inFlight.delete(who);
      else inFlight.set(who, left);
    };
    // 'close' comes after the answer is sent, or when the client goes away first
    reply.raw.once("close", release);
    reply.raw.once("finish", release);
  });
}

/** Body validation is strict (no coercion, no silently dropped keys); query strings are coerced. */
function validatorCompilers(): {
  body: Ajv;
  other: Ajv;
} {
  const common = { allErrors: true, strict: false, allowUnionTypes: true } as const;
  const body = new Ajv({
    ...common,
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: true,
  });
  const other = new Ajv({
    ...common,
    coerceTypes: true,
    removeAdditional: false,
    useDefaults: true,
  });
  const dateTime = (s: string) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d\d-\d\dT/.test(s);
  body.addFormat("date-time", dateTime);
  other.addFormat("date-time", dateTime);
  return { body, other };
}

async function clearanceApp(fastify: FastifyInstance, options: AppOptions): Promise<void> {
  const services = options.services;
  fastify.decorate("clearance", services);
  fastify.decorateRequest("requester", null);

  const ajv = validatorCompilers();
  fastify.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === "body" ? ajv.body : ajv.other).compile(schema),
  );
  fastify.addSchema(problemSchema);
  // every endpoint takes JSON; a text body is refused (415) rather than read as a string
  fastify.removeContentTypeParser("text/plain");
  // JSON is checked (UTF-8, depth, prototype keys) before and while it is parsed, and a body
  // larger than `server.bodyLimit` (a batch) is parsed in pieces between which other requests run
  const limits = services.config.limits;
  const jsonOptions = {
    maxDepth: limits.jsonDepth,
    pieceBytes: services.config.server.bodyLimit,
    sliceMs: limits.sliceMs,
    names: { maxDepth: "limits.jsonDepth", pieceBytes: "server.bodyLimit" },
  };
  fastify.removeContentTypeParser("application/json");
  fastify.addContentTypeParser(
    "application/json",
    async (request: FastifyRequest, payload: RawRequestDefaultExpression) => {
      const declared = Number(request.headers["content-length"]);
      const parsed = await readJsonBody(
        payload,
        Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined,
        request.routeOptions.bodyLimit ?? services.config.server.bodyLimit,
        jsonOptions,
        request.routeOptions.config.bodyLimitName,
      );
      if (parsed.text !== undefined) request.rawJson = parsed.text;
      return parsed.value;
    },
  );

  await fastify.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Clearance decision API",
        version: VERSION,
        description:
          "Decisions (allow, deny, review) on file-analysis results, with the rule and the reason; a tamper-evident audit log of every decision.",
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "an API key (`clr_...`)" },
          session: {
            type: "apiKey",
            in: "cookie",
            name: services.config.auth.sessions.cookieName,
            description:
              "a console session (`POST /v1/session`, `/auth/login`); state-changing requests also send `x-csrf-token`",
          },
        },
      },
    },
    refResolver: { buildLocalReference: (json) => String(json.$id) },
  });

  fastify.setErrorHandler(handleError);
  await registerLoadShedding(fastify, services);
  fastify.setNotFoundHandler((request, reply) =>
    sendProblem(reply, "not_found", `no route \`${request.method} ${request.url.split("?")[0]}\``),
  );

  const signIn = services.signIn;
  // An open server (no keys, no sign-in) listens on loopback and trusts whatever reaches it. A web
  // page elsewhere can still reach it through DNS rebinding (its own name made to resolve to
  // 127.0.0.1), and would then read and vote as a same-origin page; its requests carry its own
  // name as `Host`. Only loopback names are answered.
  if (!signIn.required)
    fastify.addHook("onRequest", async (request, reply) => {
      if (isLoopback(request.hostname) || request.routeOptions.config.agentAuth) return;
      return sendProblem(
        reply,
        "host_not_allowed",
        `this server has no API keys and no sign-in, so it answers only requests addressed to a loopback name (\`localhost\`, \`127.0.0.1\`, \`[::1]\`), not \`${request.hostname}\``,
      );
    });
  fastify.addHook("onRequest", async (request, reply) => {
    const scopes = request.routeOptions.config.scopes;
    if (scopes === undefined || !signIn.required) return;
    const lacks = scopes.map((s) => `\`${s}\``).join(" or ");
    const token = bearerToken(request.headers.authorization);
    // a Bearer key is not an ambient credential: it needs no CSRF token, and wins over a cookie
    if (token !== undefined) {
      const key = services.keys.find(token);
      if (!key)
        return sendProblem(
          reply,
          "unauthorized",
          "the API key is not valid (it may have been rotated out)",
          [],
          { "www-authenticate": 'Bearer realm="clearance"' },
        );
      if (!scopes.some((s) => hasScope(key.scopes, s)))
        return sendProblem(reply, "forbidden", `this key (\`${key.id}\`) lacks the ${lacks} scope`);
      request.requester = key.id;
      return;
    }
    const cookie = sessionOf(signIn, request);
    if (cookie.state !== "active")
      return sendProblem(
        reply,
        "unauthorized",
        cookie.state === "ended"
          ? ENDED[cookie.why]
          : "sign in to the console, or send an API key as `Authorization: Bearer <key>`",
        [],
        {
          "www-authenticate": 'Bearer realm="clearance"',
          ...(cookie.state === "ended"
            ? { "set-cookie": sessionCookie(signIn, request, null) }
            : {}),
        },
      );
    const session = cookie.session;
    if (STATE_CHANGING.has(request.method)) {
      const refused = crossSiteRefusal(signIn, request, session);
      if (refused !== undefined) return sendProblem(reply, "csrf_refused", refused);
    }
    if (!scopes.some((s) => hasScope(session.scopes, s)))
      return sendProblem(
        reply,
        "forbidden",
        `you (\`${session.name}\`) lack the ${lacks} scope this needs`,
      );
    request.requester = session.identity;
    touch(signIn, request, reply, session);
  });

  // API answers are JSON; a policy that runs nothing keeps a browser from ever running one as a page
  // (the console's files carry their own, CONSOLE_HEADERS)
  fastify.addHook("onSend", async (_request, reply, payload) => {
    if (
      !reply.hasHeader("content-security-policy") &&
      !reply.raw.hasHeader("content-security-policy")
    )
      reply.header("content-security-policy", "default-src 'none'; frame-ancestors 'none'");
    return payload;
  });

  limitInFlight(fastify, limits.inFlightPerKey);

  fastify.addHook("onResponse", async (request, reply) => {
    services.metrics.requestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? "(unmatched)",
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  await fastify.register(decisionRoutes);
  await fastify.register(webhookRoutes);
  await fastify.register(auditRoutes);
  await fastify.register(rulesetRoutes);
  await fastify.register(reviewRoutes);
  await fastify.register(playgroundRoutes);
  await fastify.register(healthRoutes);
  await fastify.register(sessionRoutes);
  if (services.santa) {
    await fastify.register(santaRoutes, { santa: services.santa });
    await fastify.register(santaFleetRoutes);
  }
  if (services.config.console.enabled)
    await fastify.register(consoleRoutes, { dir: options.consoleDir ?? CONSOLE_DIR });
}

/**
 * The whole API as one fastify plugin. It never listens: `server.ts` does, and tests call `inject()`.
 * Wrapped with fastify-plugin so its decorators and error handler apply to the instance it is on.
 */
export default fp(clearanceApp, { name: "clearance", fastify: "5.x" });
