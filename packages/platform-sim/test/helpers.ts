import { createHash } from "node:crypto";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { createSimulator, type SimulatorOptions } from "../src/index.js";

export const KEY = "sim_key_full";
export const T0 = Date.parse("2026-11-26T12:00:00.000Z");

export const sha256Of = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** A settable clock for `now`. */
export function clock(start = T0) {
  let t = start;
  const now = () => t;
  return {
    now,
    set: (ms: number) => {
      t = ms;
    },
    advance: (ms: number) => {
      t += ms;
    },
  };
}

export interface Sim {
  app: FastifyInstance;
  /** a platform request with the default key (pass `key: null` for none) */
  call(
    method: "GET" | "POST" | "PUT" | "DELETE",
    url: string,
    options?: { key?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<LightMyRequestResponse>;
  /** upload, PUT and complete: the answers of each step */
  upload(
    content: string | Buffer,
    options?: { fileName?: string; contentType?: string; key?: string },
  ): Promise<{ sha256: string; complete: LightMyRequestResponse }>;
  close(): Promise<void>;
}

export async function makeSim(options: SimulatorOptions = {}): Promise<Sim> {
  const app = await createSimulator(options);
  const call: Sim["call"] = (method, url, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? KEY : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const payload =
      opts.body === undefined
        ? undefined
        : Buffer.isBuffer(opts.body) || typeof opts.body === "string"
          ? opts.body
          : JSON.stringify(opts.body);
    if (payload !== undefined && headers["content-type"] === undefined)
      headers["content-type"] =
        typeof opts.body === "object" && !Buffer.isBuffer(opts.body)
          ? "application/json"
          : "application/octet-stream";
    return app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  };
  return {
    app,
    call,
    async upload(content, o = {}) {
      const sha256 = sha256Of(content);
      const key = o.key ?? KEY;
      const ticket = await call("POST", "/v1/upload", {
        key,
        body: {
          fileName: o.fileName ?? "setup.exe",
          contentType: o.contentType ?? "application/octet-stream",
          sha256,
        },
      });
      if (ticket.statusCode !== 200) throw new Error(`upload: ${ticket.body}`);
      const put = await call("PUT", pathOf(ticket.json().uploadUrl), { key: null, body: content });
      if (put.statusCode !== 200) throw new Error(`put: ${put.body}`);
      const complete = await call("POST", "/v1/upload/complete", { key, body: { sha256 } });
      return { sha256, complete };
    },
    close: () => app.close(),
  };
}

/** The path and query of an absolute URL. */
export function pathOf(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}

export const RATE_HEADERS = [
  "x-ratelimit-limit",
  "x-ratelimit-remaining",
  "x-ratelimit-reset",
  "ratelimit-policy",
  "ratelimit",
] as const;
