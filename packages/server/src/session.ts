import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import type { Scope } from "./auth.js";
import { SCOPES } from "./auth.js";

// Console sessions are stateless: everything a session is (who, which scopes, until when, its CSRF
// token) is sealed into its cookie with AES-256-GCM. Any replica with the same secret reads it,
// nothing is stored, and a cookie changed by one bit, sealed with another key or for another use
// does not open.

/** A signed-in person or key, as its cookie holds it. Times are Unix milliseconds. */
export interface Session {
  /** who the audit log records: `user:<username>` for a person, the key id for an API key */
  identity: string;
  /** what the header shows: the username, or the key id */
  name: string;
  via: "oidc" | "key";
  scopes: Scope[];
  /** signed in at */
  issued: number;
  /** ends at, whatever its use */
  expires: number;
  /** last used at: a session idle longer than the idle timeout ends */
  seen: number;
  /** sent back in `x-csrf-token` with every state-changing request */
  csrf: string;
}

/** What a sealed value is for; a value sealed for one use does not open for another. */
export type SealPurpose = "session" | "login";

/** People are `user:<name>`; key ids cannot hold a colon (`auth.keys[].id`), so they never collide. */
export const PERSON_PREFIX = "user:";

export class Sealer {
  private readonly key: Buffer;

  /** `secret` any length; it is hashed into the 256-bit key. */
  constructor(secret: string | Buffer) {
    this.key = createHash("sha256").update("clearance session key\0").update(secret).digest();
  }

  seal(purpose: SealPurpose, value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(`clearance:${purpose}:v1`));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
  }

  /** The value sealed for `purpose`, or undefined when the text is not one (tampered, other key). */
  unseal(purpose: SealPurpose, text: string): unknown {
    if (!/^[A-Za-z0-9_-]{40,8192}$/.test(text)) return undefined;
    const raw = Buffer.from(text, "base64url");
    if (raw.length < 12 + 16 + 1) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(`clearance:${purpose}:v1`));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      const plain = Buffer.concat([
        decipher.update(raw.subarray(12, raw.length - 16)),
        decipher.final(),
      ]);
      return JSON.parse(plain.toString("utf8"));
    } catch {
      return undefined;
    }
  }
}

export interface SessionTimes {
  ttlMs: number;
  idleMs: number;
}

/** A new session for `identity`, with a fresh CSRF token. */
export function newSession(
  who: { identity: string; name: string; via: Session["via"]; scopes: readonly Scope[] },
  times: SessionTimes,
  now: number,
): Session {
  return {
    identity: who.identity,
    name: who.name,
    via: who.via,
    scopes: inScopeOrder(who.scopes),
    issued: now,
    expires: now + times.ttlMs,
    seen: now,
    csrf: randomBytes(24).toString("base64url"),
  };
}

/** Scopes as SCOPES lists them, each once: how they are shown and compared. */
export function inScopeOrder(scopes: readonly Scope[]): Scope[] {
  return SCOPES.filter((s) => scopes.includes(s));
}

/** Why a sealed cookie is not a session now. */
export type SessionState =
  | { ok: true; session: Session }
  | { ok: false; why: "invalid" | "expired" | "idle" };

/** Opens a session cookie and checks its times. */
export function openSession(
  sealer: Sealer,
  text: string,
  times: SessionTimes,
  now: number,
): SessionState {
  const s = sealer.unseal("session", text);
  if (!isSession(s)) return { ok: false, why: "invalid" };
  if (now >= s.expires) return { ok: false, why: "expired" };
  if (now - s.seen >= times.idleMs) return { ok: false, why: "idle" };
  return { ok: true, session: s };
}

function isSession(v: unknown): v is Session {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.identity === "string" &&
    typeof s.name === "string" &&
    (s.via === "oidc" || s.via === "key") &&
    Array.isArray(s.scopes) &&
    s.scopes.every((x) => (SCOPES as readonly unknown[]).includes(x)) &&
    typeof s.issued === "number" &&
    typeof s.expires === "number" &&
    typeof s.seen === "number" &&
    typeof s.csrf === "string"
  );
}

/** Compares a sent CSRF token with the session's in constant time. */
export function csrfMatches(session: Session, sent: string | undefined): boolean {
  if (sent === undefined) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(sent);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** How a person's claims become Clearance scopes. */
export interface RoleMapping {
  usernameClaim: string;
  rolesClaim: string;
  /** a value of the roles claim -> the scopes it gives */
  roles: Readonly<Record<string, readonly Scope[]>>;
}

export type MappedPerson =
  | { ok: true; username: string; identity: string; scopes: Scope[]; roles: string[] }
  | { ok: false; why: string; username?: string };

/**
 * The person the claims name, with the scopes their roles give (in SCOPES order). A person whose
 * username claim is missing, or whose roles give no scope, is refused with words that say why.
 */
export function mapClaims(claims: Readonly<Record<string, unknown>>, m: RoleMapping): MappedPerson {
  const name = claims[m.usernameClaim];
  if (typeof name !== "string" || name.trim() === "")
    return {
      ok: false,
      why: `the identity provider sent no \`${m.usernameClaim}\` claim to name you by (\`auth.oidc.usernameClaim\`)`,
    };
  const username = name.trim();
  const raw = claims[m.rolesClaim];
  const roles = (typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : []).filter(
    (r): r is string => typeof r === "string",
  );
  const given = new Set<Scope>();
  for (const role of roles)
    if (Object.hasOwn(m.roles, role)) for (const s of m.roles[role]!) given.add(s);
  const scopes = SCOPES.filter((s) => given.has(s));
  if (scopes.length === 0)
    return {
      ok: false,
      username,
      why:
        roles.length === 0
          ? `\`${username}\` has no \`${m.rolesClaim}\` claim, so no Clearance role: ask an administrator to add you to a group that \`auth.oidc.roles\` maps`
          : `none of \`${username}\`'s \`${m.rolesClaim}\` (${roles.map((r) => `\`${r}\``).join(", ")}) is mapped to a Clearance scope in \`auth.oidc.roles\`: ask an administrator for access`,
    };
  return { ok: true, username, identity: `${PERSON_PREFIX}${username}`, scopes, roles };
}

/** Reads one cookie from a `Cookie` header (RFC 6265 syntax; the first of a name wins). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

export interface CookieOptions {
  path: string;
  /** seconds; 0 deletes the cookie */
  maxAge: number;
  sameSite: "Strict" | "Lax";
  secure: boolean;
}

/** A `Set-Cookie` value: always HttpOnly, never readable by the page's script. */
export function setCookie(name: string, value: string, o: CookieOptions): string {
  return [
    `${name}=${value}`,
    `Path=${o.path}`,
    `Max-Age=${Math.max(0, Math.floor(o.maxAge))}`,
    "HttpOnly",
    `SameSite=${o.sameSite}`,
    ...(o.secure ? ["Secure"] : []),
  ].join("; ");
}
