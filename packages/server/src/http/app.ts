import swagger from "@fastify/swagger";
import { Ajv } from "ajv";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { AuditUnavailableError } from "../audit/backend.js";
import { bearerToken, hasScope, type Scope } from "../auth.js";
import { PROBLEMS, type ProblemCode, type ProblemDetail, ProblemError } from "../problems.js";
import type { Services } from "../services.js";
import { VERSION } from "../version.js";
import { auditRoutes } from "./routes/audit.js";
import { decisionRoutes } from "./routes/decisions.js";
import { healthRoutes } from "./routes/health.js";
import { rulesetRoutes } from "./routes/ruleset.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { problemSchema } from "./schemas.js";

declare module "fastify" {
  interface FastifyInstance {
    clearance: Services;
  }
  interface FastifyRequest {
    /** the API key id that authenticated the request; null without keys */
    requester: string | null;
  }
  interface FastifyContextConfig {
    /** the request needs a key with any of these scopes (`admin` has them all) */
    scopes?: readonly Scope[];
  }
}

export interface AppOptions {
  services: Services;
}

/** Turns a problem into an RFC 9457 answer. */
export function sendProblem(
  reply: FastifyReply,
  code: ProblemCode,
  detail: string,
  problems: readonly ProblemDetail[] = [],
  headers: Record<string, string> = {},
): FastifyReply {
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
  return reply
    .code(status)
    .headers(headers)
    .type("application/problem+json; charset=utf-8")
    .serializer(JSON.stringify)
    .send(body);
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

function handleError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error instanceof ProblemError)
    return sendProblem(reply, error.code, error.detail, error.problems, error.headers);
  // a read of the audit log (a search, an entry, the latest decision) the store could not answer
  if (error instanceof AuditUnavailableError)
    return sendProblem(reply, "audit_unavailable", error.message, [], { "retry-after": "1" });
  if (error.validation) {
    const problems = validationProblems(error);
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
        `the body is larger than the limit of ${request.routeOptions.bodyLimit ?? "the configured"} bytes`,
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
        },
      },
    },
    refResolver: { buildLocalReference: (json) => String(json.$id) },
  });

  fastify.setErrorHandler(handleError);
  fastify.setNotFoundHandler((request, reply) =>
    sendProblem(reply, "not_found", `no route \`${request.method} ${request.url.split("?")[0]}\``),
  );

  fastify.addHook("onRequest", async (request, reply) => {
    const scopes = request.routeOptions.config.scopes;
    if (scopes === undefined || services.keys.size === 0) return;
    const token = bearerToken(request.headers.authorization);
    const key = token === undefined ? undefined : services.keys.find(token);
    if (!key)
      return sendProblem(
        reply,
        "unauthorized",
        token === undefined
          ? "send an API key as `Authorization: Bearer <key>`"
          : "the API key is not valid (it may have been rotated out)",
        [],
        { "www-authenticate": 'Bearer realm="clearance"' },
      );
    if (!scopes.some((s) => hasScope(key.scopes, s)))
      return sendProblem(
        reply,
        "forbidden",
        `this key (\`${key.id}\`) lacks the ${scopes.map((s) => `\`${s}\``).join(" or ")} scope`,
      );
    request.requester = key.id;
  });

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
  await fastify.register(healthRoutes);
}

/**
 * The whole API as one fastify plugin. It never listens: `server.ts` does, and tests call `inject()`.
 * Wrapped with fastify-plugin so its decorators and error handler apply to the instance it is on.
 */
export default fp(clearanceApp, { name: "clearance", fastify: "5.x" });
