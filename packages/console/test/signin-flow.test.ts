/**
 * The OpenID Connect endpoints over real HTTP, without a browser: what `/auth/login` sends to the
 * provider (a real `oidc-provider` on loopback) and keeps in its cookie, and how `/auth/callback`
 * refuses an answer it cannot trust. The whole sign-in, with the provider's login form, is
 * signin-browser.test.ts's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningServer, resolveConfig, startServer } from "@clearance/server";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { REPO } from "../../../test/support/browser.js";
import { listenProvider, type TestProvider } from "./oidc-provider.js";

describe("OpenID Connect sign-in endpoints", () => {
  let dir = "";
  let provider: TestProvider | undefined;
  const servers: RunningServer[] = [];

  async function serve(consoleEnabled: boolean): Promise<RunningServer> {
    const server = await startServer(
      resolveConfig({
        server: { port: 0, logLevel: "silent" },
        rules: { dir: join(REPO, "rules"), watch: false },
        audit: { sqlite: { path: join(dir, `${servers.length}.db`), synchronous: "normal" } },
        limits: { pressure: { maxEventLoopDelayMs: 0 } },
        console: { enabled: consoleEnabled },
        auth: {
          oidc: {
            issuer: provider!.issuer,
            clientId: provider!.clientId,
            clientSecret: provider!.clientSecret,
            // the redirect URI the provider knows; these servers never receive the real callback
            publicUrl: "http://127.0.0.1:1",
            scopes: ["email", "groups"],
            roles: { "sec-reviewers": ["review"] },
          },
        },
      }),
      { logger: false },
    );
    servers.push(server);
    return server;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "clearance-signin-flow-"));
    provider = await listenProvider({});
    provider.start("http://127.0.0.1:1/auth/callback");
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await provider?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("/auth/login: a redirect to the provider with PKCE (S256), state and nonce, kept in a Lax cookie", async () => {
    const server = await serve(true);
    const res = await fetch(`${server.url}/auth/login?return=/audit`, { redirect: "manual" });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get("location")!);
    expect(to.origin).toBe(provider!.issuer);
    const q = to.searchParams;
    expect(q.get("response_type")).toBe("code");
    expect(q.get("client_id")).toBe(provider!.clientId);
    expect(q.get("redirect_uri")).toBe("http://127.0.0.1:1/auth/callback");
    expect(q.get("scope")).toBe("openid email groups");
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get("state")).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(q.get("nonce")).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(
      /^clearance_login=[A-Za-z0-9_-]+; Path=\/auth\/callback; Max-Age=600; HttpOnly; SameSite=Lax$/,
    );
    // nothing of the transaction is readable in it (the verifier above all)
    expect(cookie).not.toContain(q.get("state")!);

    // the provider takes the request: it answers with its login page, not an error
    const atProvider = await fetch(to, { redirect: "manual" });
    expect([302, 303]).toContain(atProvider.status);
    expect(atProvider.headers.get("location")).toMatch(/\/interaction\//);

    // a return address that is not a console page is refused
    const away = await fetch(`${server.url}/auth/login?return=//evil.example`, {
      redirect: "manual",
    });
    expect(away.status).toBe(400);
  });

  test.each([
    [
      "no sign-in cookie",
      false,
      "state=x&code=y",
      "this sign-in was not started here in the last 10 minutes (or in another browser): sign in again",
    ],
    [
      "another sign-in's state",
      true,
      "state=forged&code=y",
      "the provider's answer is not for the sign-in this browser started (`state` differs): sign in again",
    ],
    [
      "the provider's error",
      true,
      "error=access_denied&error_description=the+user+said+no",
      "the identity provider did not sign you in: access_denied (the user said no)",
    ],
  ])(
    "/auth/callback with %s: back to the sign-in page, saying why",
    async (_name, started, query, why) => {
      const server = await serve(true);
      let cookie = "";
      let state = "";
      if (started) {
        const login = await fetch(`${server.url}/auth/login`, { redirect: "manual" });
        cookie = login.headers.get("set-cookie")!.split(";")[0]!;
        state = new URL(login.headers.get("location")!).searchParams.get("state")!;
      }
      const q = query.startsWith("error=") ? `${query}&state=${state}` : query;
      const res = await fetch(`${server.url}/auth/callback?${q}`, {
        redirect: "manual",
        headers: cookie ? { cookie } : {},
      });
      expect(res.status).toBe(303);
      const to = res.headers.get("location")!;
      expect(to.startsWith("/#/sign-in?refused=")).toBe(true);
      expect(new URLSearchParams(to.slice("/#/sign-in?".length)).get("refused")).toBe(why);
      // the sign-in cookie is spent either way, and no session begins
      const set = res.headers.get("set-cookie")!;
      expect(set).toMatch(/^clearance_login=; Path=\/auth\/callback; Max-Age=0/);
      expect(set).not.toContain("clearance_session");
    },
  );

  test("/auth/callback without the console: a problem document", async () => {
    const server = await serve(false);
    const res = await fetch(`${server.url}/auth/callback?state=x&code=y`, { redirect: "manual" });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({
      code: "sign_in_refused",
      detail:
        "this sign-in was not started here in the last 10 minutes (or in another browser): sign in again",
    });
  });
});
