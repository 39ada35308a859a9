/**
 * The simulator as a fastify plugin: the platform's routes (docs/platform-api.md), the admin API
 * under `/_sim/`, and the cross-cutting behaviour every platform response shares (faults, rate
 * limits and their headers, the error body). Domain rules live in state.ts.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type {
  CompleteRequest,
  FieldProblem,
  FilesQuery,
  UploadAnswer,
  UploadRequest,
} from "@clearance/platform";
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
} from "fastify";
import fp from "fastify-plugin";
import { invalidRequest, PlatformError } from "./errors.js";
import { type Faults, parseFaults, type Scope } from "./options.js";
import { rateLimitHeaders } from "./rate-limit.js";
import { ANONYMOUS, type SeedFile, type SimulatorState } from "./state.js";
import { virustotalRoutes } from "./virustotal.js";
import type { Delivery } from "./webhooks.js";

export interface SimulatorAppOptions {
  state: SimulatorState;
}

/** `GET /_sim/faults` and the answer of `POST /_sim/faults`. */
export type FaultsAnswer = Faults;

/** `GET /_sim/deliveries` */
export interface DeliveriesAnswer {
  data: Delivery[];
}

/** `POST /_sim/files` request: explicit files, a count of generated ones, or both. */
export interface SeedFilesRequest {
  files?: SeedFile[];
  count?: number;
  /** send webhooks for them too (default false: seeding is setup, not traffic) */
  notify?: boolean;
}

/** `POST /_sim/advance` */
export interface AdvanceAnswer {
  completed: string[];
}

const SHA256_PATTERN = "^[0-9a-fA-F]{64}$";
const sha256Schema = { type: "string", pattern: SHA256_PATTERN } as const;
const timeSchema = { type: "string", format: "date-time" } as const;
/** Files seeded per `POST /_sim/files`. */
export const SEED_LIMIT = 10_000;

/** Per-request notes from the cross-cutting hooks for onSend. */
interface Notes {
  headers: Record<string, string> | null;
  truncate: boolean;
}

const pathOf = (url: string) => {
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
};
const isAdmin = (path: string) => path === "/_sim" || path.startsWith("/_sim/");
/** The VirusTotal mode's routes: its own keys and quotas, none of the platform's limits. */
const isVirusTotal = (path: string) => path.startsWith("/api/v3/");

const MESSAGES: Readonly<Record<string, string>> = {
  pattern: "must be 64 hexadecimal digits",
  format: "must be an RFC 3339 time such as `2026-11-26T12:00:00Z`",
};

/** Fastify's schema errors as `details`. */
function validationDetails(error: FastifyError): FieldProblem[] {
  return (error.validation ?? []).map((v) => {
    const params = v.params as Record<string, unknown>;
    const parts = v.instancePath.split("/").filter((p) => p !== "");
    let message = MESSAGES[v.keyword] ?? v.message ?? "is invalid";
    if (v.keyword === "required") {
      parts.push(String(params.missingProperty));
      message = "is required";
    } else if (v.keyword === "additionalProperties") {
      parts.push(String(params.additionalProperty));
      message = "is not a known parameter";
    }
    const field = parts
      .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
      .join("");
    return { field: field || (error.validationContext ?? "body"), message };
  });
}

/** Any error as the platform's error. */
function toPlatformError(error: FastifyError | PlatformError): PlatformError {
  if (error instanceof PlatformError) return error;
  if (error.validation !== undefined) return invalidRequest(validationDetails(error));
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500)
    // Bad JSON, an unsupported content type, a body too large: all a bad request to a client.
    return invalidRequest([{ field: "body", message: error.message }]);
  return new PlatformError("internal_error", "the simulator failed to handle the request");
}

/** A reply body cut after half its bytes: headers promise the whole, the socket ends early. */
function truncated(payload: unknown, reply: FastifyReply): unknown {
  const body =
    typeof payload === "string" ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : null;
  if (body === null || body.length < 2) return payload;
  void reply.header("content-length", String(body.length));
  const half = body.subarray(0, Math.floor(body.length / 2));
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(half);
        return;
      }
      // Cut only once the half has left for the client, so it sees headers and a partial body.
      const cut = () => {
        if ((reply.raw.socket?.writableLength ?? 0) > 0) setTimeout(cut, 5);
        else this.destroy(new Error("response truncated by fault injection"));
      };
      setImmediate(cut);
    },
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function simulator(app: FastifyInstance, { state }: SimulatorAppOptions): Promise<void> {
  const notes = new WeakMap<FastifyRequest, Notes>();
  const options = state.options;

  app.setErrorHandler((error: FastifyError | PlatformError, request, reply) => {
    const e = toPlatformError(error);
    if (e.status >= 500 && !(error instanceof PlatformError))
      request.log.error({ err: error }, "request failed");
    return reply.code(e.status).send(e.body());
  });

  app.setNotFoundHandler((request, reply) => {
    const e = new PlatformError(
      "not_found",
      `no route \`${request.method} ${pathOf(request.url)}\``,
    );
    return reply.code(e.status).send(e.body());
  });

  // Faults, then the rate limit, on every platform request (routes and 404s alike).
  app.addHook("onRequest", async (request, reply) => {
    state.settle();
    const path = pathOf(request.url);
    if (isAdmin(path) || (state.virustotal !== null && isVirusTotal(path))) return;
    const note: Notes = { headers: null, truncate: false };
    notes.set(request, note);
    const faults = state.faults.applies(path) ? state.faults : null;
    if (faults !== null && faults.latencyMs > 0) await sleep(faults.latencyMs);
    const draw = faults?.draw();
    if (draw?.drop) {
      reply.hijack();
      // Destroying the response destroys a real socket and ends an inject() (whose socket is fake).
      reply.raw.destroy();
      return;
    }

    let bucket = state.keyFor(request.headers.authorization)?.key ?? ANONYMOUS;
    const uploadId = (request.params as Record<string, string> | undefined)?.uploadId;
    if (uploadId !== undefined) bucket = state.uploadOwner(uploadId) ?? ANONYMOUS;
    const nowMs = state.now();
    const storm = faults?.takeStorm() === true;
    const rate = storm ? state.rate.refuse(bucket, nowMs) : state.rate.take(bucket, nowMs);
    note.headers = rateLimitHeaders(rate, nowMs);
    if (!rate.allowed)
      throw new PlatformError(
        "rate_limited",
        `${storm ? "injected fault: rate-limit storm" : `over the rate limit of ${rate.limit} requests per ${rate.windowMs / 1000} s`}: retry after ${note.headers["retry-after"]} s`,
      );
    if (draw?.error === "internal_error")
      throw new PlatformError("internal_error", "injected fault: internal error");
    if (draw?.error === "unavailable")
      throw new PlatformError("unavailable", "injected fault: the platform is unavailable");
    note.truncate = draw?.truncate === true && request.method !== "HEAD";
  });

  app.addHook("onSend", async (request, reply, payload) => {
    const note = notes.get(request);
    if (note === undefined) return payload;
    if (note.headers !== null) void reply.headers(note.headers);
    return note.truncate ? truncated(payload, reply) : payload;
  });

  const requireScope =
    (scope: Scope): onRequestHookHandler =>
    (request, _reply, done) => {
      try {
        state.authorize(state.keyFor(request.headers.authorization), scope);
        done();
      } catch (error) {
        done(error as PlatformError);
      }
    };

  // -------------------------------------------------------------------------------------------
  // The platform

  app.post<{ Body: UploadRequest }>(
    "/v1/upload",
    {
      onRequest: requireScope("upload"),
      schema: {
        body: {
          type: "object",
          required: ["fileName", "contentType", "sha256"],
          properties: {
            fileName: { type: "string", minLength: 1, maxLength: 1024 },
            contentType: { type: "string", minLength: 1, maxLength: 255 },
            sha256: sha256Schema,
          },
        },
      },
    },
    async (request): Promise<UploadAnswer> => {
      const key = state.authorize(state.keyFor(request.headers.authorization), "upload");
      const ticket = state.createUpload(key, request.body);
      const base = options.baseUrl ?? `${request.protocol}://${request.host}`;
      return {
        uploadId: ticket.uploadId,
        uploadUrl: base + ticket.path,
        expiresAt: ticket.expiresAt,
      };
    },
  );

  // The bytes are hashed as they arrive and dropped: a multi-GB upload keeps memory flat.
  await app.register(async (uploads) => {
    uploads.removeAllContentTypeParsers();
    uploads.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    uploads.put<{ Params: { uploadId: string }; Querystring: { token?: string } }>(
      "/uploads/:uploadId",
      async (request) => {
        const upload = state.openUpload(request.params.uploadId, request.query.token);
        const hash = createHash("sha256");
        // VirusTotal's MD5 and SHA-1 of the file, for the VirusTotal mode
        const md5 = createHash("md5");
        const sha1 = createHash("sha1");
        let size = 0;
        const body = (request.body ?? request.raw) as AsyncIterable<Buffer>;
        for await (const chunk of body) {
          hash.update(chunk);
          md5.update(chunk);
          sha1.update(chunk);
          size += chunk.length;
        }
        return state.finishUpload(upload, hash.digest("hex"), size, {
          md5: md5.digest("hex"),
          sha1: sha1.digest("hex"),
        });
      },
    );
  });

  app.post<{ Body: CompleteRequest }>(
    "/v1/upload/complete",
    {
      onRequest: requireScope("upload"),
      schema: {
        body: { type: "object", required: ["sha256"], properties: { sha256: sha256Schema } },
      },
    },
    async (request, reply) => {
      const key = state.authorize(state.keyFor(request.headers.authorization), "upload");
      return reply.code(202).send(state.complete(key, request.body.sha256.toLowerCase()));
    },
  );

  app.get<{ Params: { sha256: string } }>(
    "/v1/files/:sha256",
    {
      onRequest: requireScope("files.read"),
      schema: {
        params: { type: "object", properties: { sha256: sha256Schema } },
      },
    },
    async (request) => state.file(request.params.sha256.toLowerCase()),
  );

  app.get<{ Querystring: FilesQuery }>(
    "/v1/files",
    {
      onRequest: requireScope("files.read"),
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            since: timeSchema,
            until: timeSchema,
            sha256: sha256Schema,
            limit: { type: "integer", minimum: 1, maximum: 1000 },
            cursor: { type: "string", minLength: 1, maxLength: 4096 },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const problems: FieldProblem[] = [];
      for (const name of ["since", "until"] as const)
        if (q[name] !== undefined && Number.isNaN(Date.parse(q[name])))
          problems.push({ field: name, message: MESSAGES.format! });
      if (problems.length > 0) throw invalidRequest(problems);
      return state.list(q);
    },
  );

  if (state.virustotal !== null) await virustotalRoutes(app, state, state.virustotal);

  // -------------------------------------------------------------------------------------------
  // The admin API: no authentication, no rate limit, no faults

  await app.register(
    async (admin) => {
      admin.get("/faults", async (): Promise<FaultsAnswer> => state.faults.get());

      admin.post("/faults", async (request): Promise<FaultsAnswer> => {
        const parsed = parseFaults(request.body ?? {});
        if (!parsed.ok)
          throw invalidRequest(parsed.problems.map((p) => ({ ...p, field: p.field || "body" })));
        state.faults.set(parsed.faults, parsed.seed);
        return state.faults.get();
      });

      admin.get(
        "/deliveries",
        async (): Promise<DeliveriesAnswer> => ({
          data: [...state.webhooks.list()],
        }),
      );

      admin.post<{ Body: SeedFilesRequest }>(
        "/files",
        {
          schema: {
            body: {
              type: "object",
              additionalProperties: false,
              properties: {
                files: {
                  type: "array",
                  maxItems: SEED_LIMIT,
                  items: {
                    type: "object",
                    required: ["sha256"],
                    additionalProperties: false,
                    properties: {
                      sha256: sha256Schema,
                      fileName: { type: "string", minLength: 1, maxLength: 1024 },
                      contentType: { type: "string", minLength: 1, maxLength: 255 },
                      size: { type: "integer", minimum: 0 },
                    },
                  },
                },
                count: { type: "integer", minimum: 0, maximum: SEED_LIMIT },
                notify: { type: "boolean" },
              },
            },
          },
        },
        async (request) => {
          const { files = [], count = 0, notify = false } = request.body;
          const data = [...state.seed(files, undefined, notify), ...state.seedCount(count, notify)];
          return { data };
        },
      );

      admin.post("/advance", async (): Promise<AdvanceAnswer> => ({ completed: state.advance() }));

      admin.post("/reset", async (_request, reply) => {
        await state.reset();
        return reply.code(204).send();
      });

      admin.delete<{ Params: { key: string } }>("/keys/:key", async (request, reply) => {
        if (!state.revoke(request.params.key)) throw new PlatformError("not_found", "no such key");
        return reply.code(204).send();
      });
    },
    { prefix: "/_sim" },
  );

  app.addHook("onClose", async () => {
    await state.close();
  });
}

/** The plugin; registered on the root so its hooks and handlers cover every route. */
export const simulatorApp = fp(simulator, { name: "clearance-platform-sim", fastify: "5.x" });
