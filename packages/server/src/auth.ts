import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const SCOPES = Object.freeze([
  "decide",
  "audit:read",
  "review",
  "exceptions",
  "admin",
] as const);
export type Scope = (typeof SCOPES)[number];

export interface ApiKey {
  id: string;
  scopes: readonly Scope[];
  /** hex SHA-256 of the secret; the secret itself is never stored */
  sha256: string;
}

/** The prefix makes a leaked key easy to recognise (and to scan for in repositories). */
const KEY_PREFIX = "clr_";

/** A new random key: the secret to hand out once, and the hash to put in the configuration. */
export function createApiKey(): { secret: string; sha256: string } {
  const secret = `${KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { secret, sha256: sha256Hex(secret) };
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Checks Bearer tokens against the configured keys. Every key's hash is compared in constant time,
 * and all of them are compared, so the time taken says nothing about which key came close.
 */
export class KeyRing {
  private readonly keys: { key: ApiKey; digest: Buffer }[];

  constructor(keys: readonly ApiKey[]) {
    this.keys = keys.map((key) => ({ key, digest: Buffer.from(key.sha256, "hex") }));
  }

  get size(): number {
    return this.keys.length;
  }

  /** The key with this id, or undefined (a session signed in with a key is checked by it). */
  byId(id: string): ApiKey | undefined {
    return this.keys.find((k) => k.key.id === id)?.key;
  }

  /** The key whose secret is `token`, or undefined. */
  find(token: string): ApiKey | undefined {
    const digest = createHash("sha256").update(token).digest();
    let found: ApiKey | undefined;
    for (const { key, digest: expected } of this.keys) {
      if (timingSafeEqual(digest, expected) && found === undefined) found = key;
    }
    return found;
  }
}

/** Whether a key with `scopes` may do what `needed` allows; `admin` may do everything. */
export function hasScope(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.includes(needed) || scopes.includes("admin");
}

/** Reads `Authorization: Bearer <token>`; undefined when absent or of another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/** Whether `host` is a loopback address, where a server without keys may listen. */
export function isLoopback(host: string): boolean {
  return (
    host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host) || host === "[::1]"
  );
}
