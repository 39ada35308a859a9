import { randomBytes } from "node:crypto";
import { parseDuration } from "@clearance/dsl";
import type { KeyRing, Scope } from "./auth.js";
import type { ServerConfig } from "./config.js";
import { OidcSignIn } from "./oidc.js";
import { newSession, Sealer, type Session, type SessionTimes } from "./session.js";

/** How people sign in to the console, and how their sessions are sealed. Built once per server. */
export class SignIn {
  readonly sealer: Sealer;
  readonly times: SessionTimes;
  readonly cookieName: string;
  readonly oidc: OidcSignIn | null;
  /** no `auth.sessions.secret`: a random key, so sessions end when the process does */
  readonly ephemeralSecret: boolean;
  /** whether anything is asked of a caller: keys or OpenID Connect configured */
  readonly required: boolean;
  readonly apiKeyAllowed: boolean;

  constructor(
    config: Readonly<ServerConfig>,
    private readonly keys: KeyRing,
    readonly now: () => number = Date.now,
  ) {
    const s = config.auth.sessions;
    this.ephemeralSecret = s.secret === null;
    this.sealer = new Sealer(s.secret ?? randomBytes(32));
    this.times = { ttlMs: parseDuration(s.ttl)!, idleMs: parseDuration(s.idleTimeout)! };
    this.cookieName = s.cookieName;
    this.oidc = config.auth.oidc === null ? null : new OidcSignIn(config.auth.oidc);
    this.required = keys.size > 0 || this.oidc !== null;
    this.apiKeyAllowed = config.auth.apiKeySignIn && keys.size > 0;
  }

  /** A session for the key whose secret is `token`, or undefined when it is not a key. */
  withKey(token: string): Session | undefined {
    const key = this.keys.find(token);
    if (key === undefined) return undefined;
    return newSession(
      { identity: key.id, name: key.id, via: "key", scopes: key.scopes },
      this.times,
      this.now(),
    );
  }

  /** A session for a person who signed in at the identity provider. */
  forPerson(person: { identity: string; username: string; scopes: readonly Scope[] }): Session {
    return newSession(
      { identity: person.identity, name: person.username, via: "oidc", scopes: person.scopes },
      this.times,
      this.now(),
    );
  }

  /**
   * The scopes a session has now: a key's are the key's as configured (a key removed from the
   * configuration ends its sessions), a person's are those given at sign-in.
   */
  scopesNow(session: Session): readonly Scope[] | undefined {
    if (session.via === "oidc") return session.scopes;
    return this.keys.byId(session.identity)?.scopes;
  }
}
