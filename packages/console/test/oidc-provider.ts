/**
 * A real OpenID provider on loopback for the sign-in tests: `oidc-provider` with one confidential
 * client (Clearance), accounts whose claims carry `email` and `groups`, and its development login
 * form (devInteractions: any password) for the browser to fill in.
 */
import { createServer, type Server } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import Provider from "oidc-provider";
import type { Page } from "playwright-core";

export interface TestAccount {
  email: string;
  groups: string[];
}

export interface TestProvider {
  /** `http://localhost:<port>`: another site than the console's `127.0.0.1` */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** registers Clearance's redirect URI (known once its server listens) and starts answering */
  start(redirectUri: string): void;
  close(): Promise<void>;
}

/** Listens at once (the issuer's port is needed for Clearance's config); answers after `start`. */
export async function listenProvider(accounts: Record<string, TestAccount>): Promise<TestProvider> {
  let handler: ((req: never, res: never) => void) | undefined;
  const server: Server = createServer((req, res) => {
    if (handler === undefined) {
      res.writeHead(503).end("not started");
      return;
    }
    handler(req as never, res as never);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  // `localhost` resolves to the same socket, but is another site to the browser than 127.0.0.1
  const issuer = `http://localhost:${port}`;
  const clientId = "clearance-console";
  const clientSecret = "a-client-secret-for-the-test-provider";
  return {
    issuer,
    clientId,
    clientSecret,
    start(redirectUri: string) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [redirectUri],
            grant_types: ["authorization_code"],
            response_types: ["code"],
            token_endpoint_auth_method: "client_secret_basic",
          },
        ],
        claims: { openid: ["sub"], email: ["email"], groups: ["groups"] },
        scopes: ["openid", "email", "groups"],
        pkce: { required: () => true },
        features: { devInteractions: { enabled: true } },
        cookies: { keys: ["a-cookie-key-for-the-test-provider"] },
        async findAccount(_ctx: unknown, id: string) {
          const account = accounts[id];
          if (account === undefined) return undefined;
          return {
            accountId: id,
            async claims() {
              return { sub: id, email: account.email, groups: account.groups };
            },
          };
        },
      });
      handler = provider.callback() as never;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nobody listens on now: Clearance's public URL (the redirect URI) is needed before it listens. */
export async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * From the console's sign-in page through the provider's own pages (its login form, any password,
 * then its consent) and back to the console at `consoleUrl`.
 */
export async function signInAtProvider(
  page: Page,
  provider: TestProvider,
  consoleUrl: string,
  login: string,
): Promise<void> {
  await page.getByRole("link", { name: "Sign in with Test SSO" }).click();
  await page.waitForURL((u) => u.href.startsWith(provider.issuer));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL((u) => u.href.startsWith(consoleUrl));
}

/** `auth.oidc` for a server on `port` signing people in at `provider`, with its roles. */
export function oidcConfig(
  provider: TestProvider,
  port: number,
  roles: Record<string, string[]>,
): Record<string, unknown> {
  return {
    issuer: provider.issuer,
    name: "Test SSO",
    clientId: provider.clientId,
    clientSecret: provider.clientSecret,
    publicUrl: `http://127.0.0.1:${port}`,
    scopes: ["email", "groups"],
    roles,
  };
}
