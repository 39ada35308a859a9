/**
 * A small local fastify stand-in for the platform, for precise fault sequences: each test adds the
 * routes it needs. Every request is recorded. Bodies of `application/octet-stream` are handed to
 * the route as a stream (never buffered), so uploads of any size can be checked.
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { PlatformClient, type PlatformClientOptions } from "../src/index.js";

export const KEY = "k_test_0123456789";

export interface Call {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface Stub {
  app: FastifyInstance;
  url: string;
  calls: Call[];
  /** Calls whose `METHOD path` (query removed) equals `route`. */
  count(route: string): number;
  close(): Promise<void>;
}

export async function startStub(routes: (app: FastifyInstance, stub: Stub) => void): Promise<Stub> {
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 10 * 1024 * 1024 });
  app.addContentTypeParser("application/octet-stream", (_request, payload, done) => {
    done(null, payload);
  });
  const stub: Stub = {
    app,
    url: "",
    calls: [],
    count(route) {
      return this.calls.filter((c) => `${c.method} ${c.url.split("?")[0]}` === route).length;
    },
    close: () => app.close(),
  };
  app.addHook("preHandler", async (request) => {
    stub.calls.push({
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: request.headers["content-type"]?.startsWith("application/json")
        ? request.body
        : undefined,
    });
  });
  routes(app, stub);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  stub.url = `http://127.0.0.1:${address.port}`;
  return stub;
}

/** A client for the stub with instant, recorded sleeps and a fixed jitter. */
export function clientFor(
  stub: Stub,
  options: Partial<PlatformClientOptions> = {},
): { client: PlatformClient; sleeps: number[] } {
  const sleeps: number[] = [];
  const client = new PlatformClient({
    baseUrl: stub.url,
    apiKey: KEY,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
  return { client, sleeps };
}

/** The platform's error body. */
export function platformError(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message, ...extra } };
}

/** Consumes an upload stream, hashing it: `{sha256, size}`. */
export async function drain(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}

/** Answers with headers promising `declared` bytes, sends `sent` of them, and cuts the socket. */
export function truncate(reply: FastifyReply, sent: string, declared: number): void {
  reply.hijack();
  reply.raw.writeHead(200, {
    "content-type": "application/json",
    "content-length": String(declared),
  });
  reply.raw.write(sent, () => reply.raw.socket?.destroy());
}

export const SHA_A = "a".repeat(64);
export const SHA_B = "b".repeat(64);

/** A completed platform file object. */
export function completedFile(sha256: string, fields: Record<string, unknown> = {}) {
  return {
    sha256,
    status: "completed",
    version: 1,
    file_name: "setup.exe",
    file_size: 1234,
    trust_score: 91,
    verdict: "Clean",
    signing: { status: "valid_signature", signer: "Contoso Ltd" },
    detection_results: { EngineA: { category: "undetected", result: null } },
    analyzed_at: "2026-11-26T12:00:00Z",
    ...fields,
  };
}
