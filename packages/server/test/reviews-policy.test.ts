// `GET /v1/reviews/policy`: the voting policy a reviewer (the console's vote form) votes under.
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { createApiKey } from "../src/auth.js";
import { resolveConfig } from "../src/config.js";
import { type RunningServer, startServer } from "../src/server.js";
import { RULES, tempDir } from "./helpers.js";

const READER = createApiKey();
const REVIEWER = createApiKey();

describe("GET /v1/reviews/policy", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  async function serve(reviews: Record<string, unknown>, keys = false): Promise<RunningServer> {
    const tmp = tempDir();
    cleanups.push(async () => tmp.remove());
    const server = await startServer(
      resolveConfig(
        {
          server: { port: 0, logLevel: "silent" },
          rules: { dir: RULES, watch: false },
          audit: { sqlite: { path: join(tmp.dir, "audit.db") } },
          // no load shedding: a loaded test machine's event loop is not what is tested here
          limits: { pressure: { maxEventLoopDelayMs: 0 } },
          auth: {
            keys: keys
              ? [
                  { id: "reader", scopes: ["audit:read"], sha256: READER.sha256 },
                  { id: "reviewer", scopes: ["review"], sha256: REVIEWER.sha256 },
                ]
              : [],
          },
          reviews,
        },
        { baseDir: tmp.dir },
      ),
      { logger: false, hooks: { processMetrics: false } },
    );
    cleanups.push(() => server.close());
    return server;
  }

  const get = async (server: RunningServer, secret?: string) => {
    const res = await fetch(`${server.url}/v1/reviews/policy`, {
      headers: secret ? { authorization: `Bearer ${secret}` } : {},
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  test.each([
    {
      name: "the defaults",
      reviews: {},
      policy: {
        approvalsRequired: 1,
        broaderScopeApprovals: 2,
        rejectionVetoes: true,
        selfApproval: false,
        caseExpiry: "7d",
        exceptionExpiry: {
          default: "90d",
          defaultMs: 90 * 86_400_000,
          max: "365d",
          maxMs: 365 * 86_400_000,
          allowNoExpiry: false,
        },
      },
    },
    {
      name: "a configured policy",
      reviews: {
        approvalsRequired: 2,
        broaderScopeApprovals: 3,
        rejectionVetoes: false,
        selfApproval: true,
        caseExpiry: "2d12h",
        exceptionExpiry: { default: "30d", max: "60d", allowNoExpiry: true },
      },
      policy: {
        approvalsRequired: 2,
        broaderScopeApprovals: 3,
        rejectionVetoes: false,
        selfApproval: true,
        caseExpiry: "2d12h",
        exceptionExpiry: {
          default: "30d",
          defaultMs: 30 * 86_400_000,
          max: "60d",
          maxMs: 60 * 86_400_000,
          allowNoExpiry: true,
        },
      },
    },
  ])("answers $name", async ({ reviews, policy }) => {
    const server = await serve(reviews);
    expect(await get(server)).toEqual({ status: 200, body: policy });
  });

  test("answers 404 reviews_disabled when reviews are off", async () => {
    const server = await serve({ enabled: false });
    const { status, body } = await get(server);
    expect(status).toBe(404);
    expect(body.code).toBe("reviews_disabled");
  });

  test("needs the review scope with API keys", async () => {
    const server = await serve({}, true);
    expect((await get(server)).status).toBe(401);
    expect((await get(server, READER.secret)).status).toBe(403);
    expect((await get(server, REVIEWER.secret)).status).toBe(200);
  });
});
