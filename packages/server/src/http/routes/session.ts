import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SCOPES } from "../../auth.js";
import { DomainError, IdentityProviderError } from "../../errors.js";
import type { LoginTransaction } from "../../oidc.js";
import { readCookie, type Session } from "../../session.js";
import { ProblemError, problemOf } from "../problems.js";
import { problemResponses } from "../schemas.js";
import {
  crossSiteRefusal,
  ENDED,
  LOGIN_COOKIE,
  LOGIN_TTL_MS,
  loginCookie,
  sessionCookie,
  sessionOf,
  touch,
} from "../sessions.js";

const SESSION_VIEW = {
  type: "object",
  required: ["mode", "identity", "name", "via", "scopes", "expires", "csrfToken", "signIn"],
  properties: {
    mode: {
      type: "string",
      enum: ["open", "signed-in", "signed-out"],
      description:
        "`open`: a loopback server without keys or sign-in, where everything is allowed; `signed-in`: this cookie's session; `signed-out`: sign in to go on",
    },
    identity: {
      type: ["string", "null"],
      description: "what the audit log records: `user:<name>` for a person, the key id for a key",
    },
    name: { type: ["string", "null"], description: "the person's username, or the key id" },
    via: { type: ["string", "null"], enum: ["oidc", "key", null] },
    scopes: { type: "array", items: { type: "string", enum: [...SCOPES] } },
    expires: { type: ["string", "null"], description: "when the session ends at the latest" },
    csrfToken: {
      type: ["string", "null"],
      description: "send it as `x-csrf-token` with every POST, PUT, PATCH and DELETE",
    },
    ended: {
      type: ["string", "null"],
      description: "why the cookie sent is no session any more (expired, idle, ...), in words",
    },
    signIn: {
      type: "object",
      required: ["oidc", "apiKey"],
      properties: {
        oidc: {
          anyOf: [
            {
              type: "object",
              properties: { name: { type: "string" }, url: { type: "string" } },
            },
            { type: "null" },
          ],
          description: "OpenID Connect sign-in: the provider's name and where to start",
        },
        apiKey: { type: "boolean", description: "whether `POST /v1/session` takes an API key" },
      },
    },
  },
} as const;

const REDIRECT = {
  type: "null",
  description: "a redirect (`Location`)",
} as const;

/** A console route to return to after signing in: `/audit`, `/audit/<id>?x=y`; nothing else. */
const RETURN_TO = "^/(?!/)[A-Za-z0-9/_.~%?=&:+-]{0,500}$";

export async function sessionRoutes(fastify: FastifyInstance): Promise<void> {
  const { signIn, config } = fastify.clearance;

  function view(session: Session | null, ended: string | null = null) {
    const mode = !signIn.required ? "open" : session === null ? "signed-out" : "signed-in";
    return {
      mode,
      identity: session?.identity ?? null,
      name: session?.name ?? null,
      via: session?.via ?? null,
      scopes: mode === "open" ? [...SCOPES] : (session?.scopes ?? []),
      expires: session === null ? null : new Date(session.expires).toISOString(),
      csrfToken: session?.csrf ?? null,
      ended,
      signIn: {
        oidc: signIn.oidc === null ? null : { name: signIn.oidc.displayName, url: "/auth/login" },
        apiKey: signIn.apiKeyAllowed,
      },
    };
  }

  fastify.get(
    "/v1/session",
    {
      schema: {
        summary: "Who am I: the console session, its scopes and CSRF token, and how to sign in",
        tags: ["sessions"],
        response: { 200: SESSION_VIEW },
      },
    },
    async (request, reply) => {
      if (!signIn.required) return view(null);
      const s = sessionOf(signIn, request);
      if (s.state === "active") {
        touch(signIn, request, reply, s.session);
        return view(s.session);
      }
      if (s.state === "ended") {
        reply.header("set-cookie", sessionCookie(signIn, request, null));
        return view(null, ENDED[s.why]);
      }
      return view(null);
    },
  );

  fastify.post<{ Body: { apiKey: string } }>(
    "/v1/session",
    {
      schema: {
        summary: "Sign in with an API key (a one-person setup): answers with a session cookie",
        description:
          "The key is checked as a Bearer key would be; the session has the key's scopes and records the key id. Only from the server's own origin (`Origin`/`Sec-Fetch-Site`).",
        tags: ["sessions"],
        body: {
          type: "object",
          required: ["apiKey"],
          additionalProperties: false,
          properties: { apiKey: { type: "string", minLength: 1, maxLength: 512 } },
        },
        response: { 200: SESSION_VIEW, ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      if (!signIn.apiKeyAllowed)
        throw new ProblemError(
          "forbidden",
          signIn.required
            ? "signing in with an API key is turned off on this server (`auth.apiKeySignIn`)"
            : "this server has no API keys to sign in with; the console is open without sign-in",
        );
      // login CSRF: another site must not sign a browser in as a key of its choosing
      const refused = crossSiteRefusal(signIn, request, null);
      if (refused !== undefined) throw new ProblemError("csrf_refused", refused);
      const session = signIn.withKey(request.body.apiKey);
      if (session === undefined)
        throw new ProblemError(
          "unauthorized",
          "the API key is not valid (it may have been rotated out)",
        );
      reply.header("set-cookie", sessionCookie(signIn, request, session));
      return view(session);
    },
  );

  fastify.delete(
    "/v1/session",
    {
      schema: {
        summary: "Sign out: the session cookie is removed",
        description:
          "With a session, it needs the session's `x-csrf-token` (another site cannot sign you out). The cookie is sealed and kept by nobody else: removing it ends the session.",
        tags: ["sessions"],
        response: {
          204: { type: "null", description: "signed out" },
          ...problemResponses(403),
        },
      },
    },
    async (request, reply) => {
      const s = sessionOf(signIn, request);
      if (s.state === "active") {
        const refused = crossSiteRefusal(signIn, request, s.session);
        if (refused !== undefined) throw new ProblemError("csrf_refused", refused);
      }
      reply.header("set-cookie", sessionCookie(signIn, request, null));
      return reply.code(204).send();
    },
  );

  fastify.get<{ Querystring: { return?: string } }>(
    "/auth/login",
    {
      schema: {
        summary: "Start signing in with OpenID Connect: a redirect to the identity provider",
        description:
          "Authorization code flow with PKCE (S256), `state` and `nonce`, kept for 10 minutes in a sealed, HttpOnly cookie for `/auth/callback`.",
        tags: ["sessions"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            return: {
              type: "string",
              pattern: RETURN_TO,
              description: "the console page to open after signing in (`/audit`)",
            },
          },
        },
        response: { 302: REDIRECT, ...problemResponses(400, 404, 502) },
      },
    },
    async (request, reply) => {
      if (signIn.oidc === null)
        throw new ProblemError(
          "not_found",
          "sign-in with OpenID Connect is not configured on this server (`auth.oidc`)",
        );
      // the pattern keeps it a path of this origin (`/#<path>`), never `//another.host`
      const { url, transaction } = await signIn.oidc.start(
        request.query.return ?? "/audit",
        signIn.now(),
      );
      reply.header("set-cookie", loginCookie(request, signIn.sealer.seal("login", transaction)));
      return reply.redirect(url, 302);
    },
  );

  /** A refused sign-in: in the console's words on its sign-in page, or as a problem without it. */
  function refuse(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
    const problem =
      error instanceof ProblemError
        ? error
        : error instanceof DomainError
          ? problemOf(error)
          : problemOf(new IdentityProviderError(`the sign-in failed: ${(error as Error).message}`));
    if (!(error instanceof DomainError) && !(error instanceof ProblemError))
      request.log.error({ err: error }, "sign-in failed");
    else request.log.info({ code: problem.code, detail: problem.detail }, "sign-in refused");
    reply.header("set-cookie", loginCookie(request, null));
    if (!config.console.enabled) throw problem;
    const params = new URLSearchParams({ refused: problem.detail });
    return reply.redirect(`/#/sign-in?${params}`, 303);
  }

  fastify.get(
    "/auth/callback",
    {
      schema: {
        summary: "Where the identity provider returns: the code is exchanged, the session begins",
        description:
          "On success a redirect to the console with a session cookie. A person whose claims map to no scope (`auth.oidc.roles`) is refused: with the console, a redirect to its sign-in page that says why; without it, a `sign_in_refused` problem.",
        tags: ["sessions"],
        response: { 303: REDIRECT, ...problemResponses(403, 404, 502) },
      },
    },
    async (request, reply) => {
      const oidc = signIn.oidc;
      if (oidc === null)
        throw new ProblemError(
          "not_found",
          "sign-in with OpenID Connect is not configured on this server (`auth.oidc`)",
        );
      const sealed = readCookie(request.headers.cookie, LOGIN_COOKIE);
      const transaction = (
        sealed === undefined ? undefined : signIn.sealer.unseal("login", sealed)
      ) as LoginTransaction | undefined;
      if (transaction === undefined || signIn.now() - transaction.started > LOGIN_TTL_MS)
        return refuse(
          request,
          reply,
          new ProblemError(
            "sign_in_refused",
            "this sign-in was not started here in the last 10 minutes (or in another browser): sign in again",
          ),
        );
      const q = request.url.indexOf("?");
      try {
        const person = await oidc.finish(q === -1 ? "" : request.url.slice(q), transaction);
        const session = signIn.forPerson(person);
        reply.header("set-cookie", [
          sessionCookie(signIn, request, session),
          loginCookie(request, null),
        ]);
        request.log.info({ identity: session.identity, scopes: session.scopes }, "signed in");
        return reply.redirect(`/#${transaction.returnTo}`, 303);
      } catch (error) {
        return refuse(request, reply, error);
      }
    },
  );
}
