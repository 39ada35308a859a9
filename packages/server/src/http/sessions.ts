import type { FastifyReply, FastifyRequest } from "fastify";
import { isLoopback } from "../auth.js";
import {
  csrfMatches,
  inScopeOrder,
  openSession,
  readCookie,
  type Session,
  setCookie,
} from "../session.js";
import type { SignIn } from "../signin.js";

// The HTTP side of console sessions: which cookie, with which attributes, and the checks a request
// carrying one must pass. Sealing and times are in ../session.ts; sign-in itself in ../signin.ts.

/** Methods that change something: with a cookie they need the CSRF token and a same-origin request. */
export const STATE_CHANGING: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The cookie that carries a sign-in from `/auth/login` to `/auth/callback` (10 minutes). */
export const LOGIN_COOKIE = "clearance_login";
export const LOGIN_TTL_MS = 600_000;
/** A session's `seen` time is renewed (its cookie sent again) at most this often. */
const TOUCH_MS = 60_000;

/**
 * `Secure` everywhere but plain http to a loopback address, where browsers would drop a Secure
 * cookie sent over http (and nothing crosses a network).
 */
export function secureCookies(request: FastifyRequest): boolean {
  return !(request.protocol === "http" && isLoopback(request.hostname));
}

/**
 * The session cookie is `SameSite=Strict`: the console only uses it from its own pages (fetch from
 * its origin), so a link from elsewhere never needs it; the provider's redirect back to
 * `/auth/callback` is cross-site, which is why the short login cookie alone is `Lax`.
 */
export function sessionCookie(
  signIn: SignIn,
  request: FastifyRequest,
  session: Session | null,
): string {
  const value = session === null ? "" : signIn.sealer.seal("session", session);
  const maxAge = session === null ? 0 : (session.expires - signIn.now()) / 1000;
  return setCookie(signIn.cookieName, value, {
    path: "/",
    maxAge,
    sameSite: "Strict",
    secure: secureCookies(request),
  });
}

export function loginCookie(request: FastifyRequest, sealed: string | null): string {
  return setCookie(LOGIN_COOKIE, sealed ?? "", {
    path: "/auth/callback",
    maxAge: sealed === null ? 0 : LOGIN_TTL_MS / 1000,
    sameSite: "Lax",
    secure: secureCookies(request),
  });
}

export type CookieSession =
  | { state: "none" }
  | { state: "ended"; why: "invalid" | "expired" | "idle" | "key_removed" }
  | { state: "active"; session: Session };

/** The request's session cookie, opened and checked (times, and a key session's key still there). */
export function sessionOf(signIn: SignIn, request: FastifyRequest): CookieSession {
  const text = readCookie(request.headers.cookie, signIn.cookieName);
  if (text === undefined || text === "") return { state: "none" };
  const opened = openSession(signIn.sealer, text, signIn.times, signIn.now());
  if (!opened.ok) return { state: "ended", why: opened.why };
  const scopes = signIn.scopesNow(opened.session);
  if (scopes === undefined) return { state: "ended", why: "key_removed" };
  return { state: "active", session: { ...opened.session, scopes: inScopeOrder(scopes) } };
}

/** Why a session ended, in words for a 401. */
export const ENDED: Readonly<
  Record<Exclude<CookieSession, { state: "none" | "active" }>["why"], string>
> = Object.freeze({
  invalid:
    "the session cookie is not one this server issued (or its secret changed); sign in again",
  expired: "the session has expired (`auth.sessions.ttl`); sign in again",
  idle: "the session ended after being unused (`auth.sessions.idleTimeout`); sign in again",
  key_removed: "the API key this session signed in with is no longer configured; sign in again",
});

/** Renews a session's `seen` time (for the idle timeout) by sending its cookie again, now and then. */
export function touch(signIn: SignIn, request: FastifyRequest, reply: FastifyReply, s: Session) {
  const now = signIn.now();
  if (now - s.seen < TOUCH_MS) return;
  reply.header("set-cookie", sessionCookie(signIn, request, { ...s, seen: now }));
}

/** The origins this server is reached at: the request's own, and `auth.oidc.publicUrl`'s. */
function ownOrigins(signIn: SignIn, request: FastifyRequest): string[] {
  const origins = [`${request.protocol}://${request.host}`];
  if (signIn.oidc !== null) origins.push(new URL(signIn.oidc.redirectUri).origin);
  return origins;
}

/**
 * Why a request may not act with the browser's ambient credentials, or undefined when it may: it
 * must come from this server's own origin (`Sec-Fetch-Site`, `Origin`), and, when `session` is
 * given, carry that session's CSRF token in `x-csrf-token`.
 */
export function crossSiteRefusal(
  signIn: SignIn,
  request: FastifyRequest,
  session: Session | null,
): string | undefined {
  const site = request.headers["sec-fetch-site"];
  const origin = request.headers.origin;
  if (site !== undefined && site !== "same-origin")
    return `this request is \`${site}\` (\`Sec-Fetch-Site\`): only the console's own pages may change anything with its session`;
  if (origin !== undefined && !ownOrigins(signIn, request).includes(origin))
    return `this request comes from \`${origin}\`, which is not this server's origin`;
  if (site === undefined && origin === undefined)
    return "this request says neither where it comes from (`Origin`) nor whether it is same-origin (`Sec-Fetch-Site`); with a session cookie one of them is required";
  if (session === null) return undefined;
  const sent = request.headers["x-csrf-token"];
  if (typeof sent !== "string")
    return "send the session's CSRF token (`csrfToken` of `GET /v1/session`) in the `x-csrf-token` header";
  if (!csrfMatches(session, sent)) return "the `x-csrf-token` header is not this session's token";
  return undefined;
}
