import * as client from "openid-client";
import { isLoopback, type Scope } from "./auth.js";
import type { ServerConfig } from "./config.js";
import { IdentityProviderError, SignInRefusedError } from "./errors.js";
import { type MappedPerson, mapClaims } from "./session.js";

// Sign-in with OpenID Connect, by openid-client: the authorization code flow with PKCE (S256),
// `state` and `nonce`. What the browser must carry from the start of a sign-in to its end (those
// three and where to return) is returned to the HTTP layer, which seals it into a short cookie.

export type OidcConfig = NonNullable<ServerConfig["auth"]["oidc"]>;

/** What one sign-in carries from `/auth/login` to `/auth/callback`. */
export interface LoginTransaction {
  state: string;
  nonce: string;
  verifier: string;
  /** the console route to return to (`/audit`) */
  returnTo: string;
  /** started at, Unix ms */
  started: number;
}

/** The person signed in, as Clearance knows them. */
export interface SignedInPerson {
  username: string;
  identity: string;
  scopes: Scope[];
}

export class OidcSignIn {
  private discovered: Promise<client.Configuration> | undefined;
  readonly redirectUri: string;
  /** what the sign-in button calls the provider */
  readonly displayName: string;

  constructor(private readonly config: OidcConfig) {
    this.redirectUri = `${config.publicUrl.replace(/\/+$/, "")}/auth/callback`;
    this.displayName = config.name ?? new URL(config.issuer).host;
  }

  /** The provider's metadata, fetched once; a failed fetch is tried again on the next sign-in. */
  private configuration(): Promise<client.Configuration> {
    if (this.discovered === undefined) {
      const issuer = new URL(this.config.issuer);
      const insecure = issuer.protocol === "http:" && isLoopback(issuer.hostname);
      this.discovered = client
        .discovery(
          issuer,
          this.config.clientId,
          undefined,
          client.ClientSecretBasic(this.config.clientSecret),
          insecure ? { execute: [client.allowInsecureRequests] } : {},
        )
        .catch((error: unknown) => {
          this.discovered = undefined;
          throw new IdentityProviderError(
            `cannot read the identity provider's metadata at \`${this.config.issuer}\`: ${(error as Error).message}`,
            [],
            { cause: error },
          );
        });
    }
    return this.discovered;
  }

  /** Where to send the browser to sign in, and what to keep until it comes back. */
  async start(
    returnTo: string,
    now: number,
  ): Promise<{ url: string; transaction: LoginTransaction }> {
    const config = await this.configuration();
    const transaction: LoginTransaction = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
      returnTo,
      started: now,
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: ["openid", ...this.config.scopes.filter((s) => s !== "openid")].join(" "),
      response_type: "code",
      code_challenge: await client.calculatePKCECodeChallenge(transaction.verifier),
      code_challenge_method: "S256",
      state: transaction.state,
      nonce: transaction.nonce,
    });
    return { url: url.href, transaction };
  }

  /**
   * Exchanges the code the provider sent back (`search`: the callback's query string) and maps
   * the person's claims (ID token and userinfo) to an identity and scopes.
   */
  async finish(search: string, transaction: LoginTransaction): Promise<SignedInPerson> {
    const config = await this.configuration();
    const current = new URL(this.redirectUri);
    current.search = search;
    // an answer to another sign-in (or forged) is refused before anything in it is believed
    if (current.searchParams.get("state") !== transaction.state)
      throw new SignInRefusedError(
        "the provider's answer is not for the sign-in this browser started (`state` differs): sign in again",
      );
    const error = current.searchParams.get("error");
    if (error !== null)
      throw new SignInRefusedError(
        `the identity provider did not sign you in: ${error}${current.searchParams.has("error_description") ? ` (${current.searchParams.get("error_description")})` : ""}`,
      );
    let claims: Record<string, unknown>;
    try {
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: transaction.verifier,
        expectedState: transaction.state,
        expectedNonce: transaction.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims()!;
      claims = { ...idToken };
      // providers put scope claims (email, groups) in userinfo rather than the ID token
      if (config.serverMetadata().userinfo_endpoint !== undefined) {
        const info = await client.fetchUserInfo(config, tokens.access_token, idToken.sub);
        claims = {
          ...info,
          ...idToken,
          ...pick(info, [this.config.usernameClaim, this.config.rolesClaim]),
        };
      }
    } catch (error) {
      if (error instanceof SignInRefusedError) throw error;
      throw new IdentityProviderError(
        `the sign-in could not be completed with the identity provider: ${(error as Error).message}`,
        [],
        { cause: error },
      );
    }
    const person: MappedPerson = mapClaims(claims, {
      usernameClaim: this.config.usernameClaim,
      rolesClaim: this.config.rolesClaim,
      roles: this.config.roles as Record<string, Scope[]>,
    });
    if (!person.ok) throw new SignInRefusedError(person.why);
    return { username: person.username, identity: person.identity, scopes: person.scopes };
  }
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
