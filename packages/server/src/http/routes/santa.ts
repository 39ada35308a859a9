import {
  BodyEncodingError,
  decodeBody,
  eventUploadResponseJson,
  type ProtocolProblem,
  preflightResponseJson,
  type Read,
  readEventUploadRequest,
  readPostflightRequest,
  readPreflightRequest,
  readRuleDownloadRequest,
  ruleDownloadResponseJson,
} from "@clearance/santa";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { bearerToken, hasScope } from "../../auth.js";
import { AgentForbiddenError, AgentUnauthorizedError, NotFoundError } from "../../errors.js";
import type { SantaService, SyncingMachine } from "../../santa.js";
import type { FeedFormat, FeedList } from "../../santa-feeds.js";
import { parseJsonBody } from "../json-body.js";
import { ProblemError } from "../problems.js";
import { problemResponses } from "../schemas.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** the Santa sync stage a route serves, for metrics */
    santaStage?: string;
    /** the route authenticates its callers itself (Santa agents' tokens), on any host name */
    agentAuth?: boolean;
  }
  interface FastifyRequest {
    /** the Santa machine a sync request is for, once its token was checked */
    santaMachine?: SyncingMachine;
  }
}

/** Santa's sync stages, each `POST /santa/v1/<stage>/<machine id>` (docs/endpoints.md). */
const STAGES = ["preflight", "eventupload", "ruledownload", "postflight"] as const;
type Stage = (typeof STAGES)[number];

/**
 * Santa's sync protocol, as agents speak it: JSON bodies, compressed as the agent's
 * `SyncClientContentEncoding` says, and a token in `Authorization` (the agent's
 * `SyncExtraHeaders`). Tokens are checked before a body is read or inflated.
 */
export async function santaRoutes(
  fastify: FastifyInstance,
  options: { santa: SantaService },
): Promise<void> {
  const { config, metrics } = fastify.clearance;
  const { santa } = options;
  const limit = config.santa.bodyLimit;
  const jsonOptions = {
    maxDepth: config.limits.jsonDepth,
    pieceBytes: limit,
    sliceMs: config.limits.sliceMs,
    names: { maxDepth: "limits.jsonDepth", pieceBytes: "santa.bodyLimit" },
  };

  // the bytes as sent (perhaps compressed); read once the token is known to be good
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    ["application/json", "application/*+json"],
    { parseAs: "buffer", bodyLimit: limit },
    (_request, body, done) => done(null, body),
  );

  fastify.addHook("onRequest", async (request) => {
    const { machineId } = request.params as { machineId?: string };
    if (machineId === undefined) return;
    request.santaMachine = await santa.authenticate(
      machineId,
      bearerToken(request.headers.authorization),
    );
  });
  fastify.addHook("onResponse", async (request, reply) => {
    const stage = request.routeOptions.config.santaStage;
    if (stage !== undefined)
      metrics.santaRequests.inc({
        stage,
        outcome: reply.statusCode === 200 ? "ok" : String(reply.statusCode),
      });
  });

  /** The body as a message of the protocol: inflated, checked as JSON, then read. */
  async function message<T>(request: FastifyRequest, read: (v: unknown) => Read<T>): Promise<T> {
    const sent = request.body;
    const raw = Buffer.isBuffer(sent) ? sent : Buffer.alloc(0);
    let bytes: Buffer;
    try {
      bytes = await decodeBody(raw, request.headers["content-encoding"], limit);
    } catch (error) {
      if (!(error instanceof BodyEncodingError)) throw error;
      throw new ProblemError(
        error.reason === "too_large"
          ? "body_too_large"
          : error.reason === "unsupported"
            ? "unsupported_media_type"
            : "malformed_json",
        `${error.message}${error.reason === "too_large" ? " (`santa.bodyLimit`)" : ""}`,
      );
    }
    const { value } = await parseJsonBody(bytes, jsonOptions);
    const r = read(value);
    if (!r.ok) throw invalid(r.problems);
    return r.value;
  }

  const route = (
    stage: Stage,
    summary: string,
    handle: (request: FastifyRequest) => Promise<unknown>,
  ) =>
    fastify.post(
      `/santa/v1/${stage}/:machineId`,
      {
        bodyLimit: limit,
        config: { santaStage: stage, bodyLimitName: "santa.bodyLimit", agentAuth: true },
        schema: {
          summary,
          description:
            "Santa's sync protocol (santa.sync.v1, JSON; `Content-Encoding: deflate` or `gzip` accepted), with the group's enrollment token or the machine's own as `Authorization: Bearer <token>` (docs/endpoints.md).",
          tags: ["santa"],
          params: {
            type: "object",
            properties: { machineId: { type: "string" } },
            required: ["machineId"],
          },
          response: problemResponses(400, 401, 403, 413, 415, 503),
        },
      },
      async (request, reply) => {
        reply.type("application/json");
        return handle(request);
      },
    );

  route("preflight", "Santa: preflight (a sync begins)", async (request) =>
    preflightResponseJson(
      await santa.preflight(request.santaMachine!, await message(request, readPreflightRequest)),
    ),
  );
  route("eventupload", "Santa: executions an agent reports, each decided", async (request) =>
    eventUploadResponseJson(
      await santa.eventUpload(
        request.santaMachine!,
        await message(request, readEventUploadRequest),
      ),
    ),
  );
  route("ruledownload", "Santa: the rules changed since the agent's last sync", async (request) =>
    ruleDownloadResponseJson(
      await santa.ruleDownload(
        request.santaMachine!,
        await message(request, readRuleDownloadRequest),
      ),
    ),
  );
  fastify.get<{ Params: { group: string; file: string } }>(
    "/v1/feeds/:group/:file",
    {
      config: { agentAuth: true },
      schema: {
        summary: "A group's allow or block list of SHA-256, as text or JSON, or its signature",
        description:
          "`allow.txt`, `allow.json`, `block.txt`, `block.json`: the group's standing Santa BINARY rules; add `.sig` for the base64 Ed25519 signature of the list's bytes (`santa.feedSigningKey`). `ETag` and `If-None-Match` make polling cheap. Read with one of the group's tokens or an API key with `audit:read` (docs/endpoints.md#feeds).",
        tags: ["santa"],
        params: {
          type: "object",
          properties: {
            group: { type: "string", minLength: 1, maxLength: 64 },
            file: { type: "string", pattern: "^(allow|block)\\.(txt|json)(\\.sig)?$" },
          },
          required: ["group", "file"],
        },
      },
    },
    async (request, reply) => {
      const { group, file } = request.params;
      authorizeFeed(request, santa, group);
      if (!santa.hasGroup(group))
        throw new NotFoundError(`no Santa group \`${group}\` is configured`);
      const [list, format, sig] = file.split(".") as [FeedList, FeedFormat, string | undefined];
      const feed = await santa.feeds.feed(group, list, format);
      if (sig !== undefined && feed.signature === null)
        throw new NotFoundError(
          "lists are not signed on this server: set `santa.feedSigningKey` to an Ed25519 key",
        );
      const etag = sig === undefined ? feed.etag : `${feed.etag.slice(0, -1)}-sig"`;
      reply.header("etag", etag).header("cache-control", "no-cache");
      if (feed.signature !== null) reply.header("clearance-signature", `ed25519=${feed.signature}`);
      if (request.headers["if-none-match"] === etag) return reply.code(304).send();
      if (sig !== undefined)
        return reply.type("text/plain; charset=utf-8").send(`${feed.signature}\n`);
      return reply.type(feed.contentType).send(feed.body);
    },
  );

  fastify.get(
    "/v1/feeds/key.pem",
    {
      config: { agentAuth: true },
      schema: {
        summary: "The public key that checks the feeds' signatures (PEM)",
        tags: ["santa"],
      },
    },
    async (_request, reply) => {
      const pem = santa.feeds.publicKey;
      if (pem === null)
        throw new NotFoundError(
          "lists are not signed on this server: set `santa.feedSigningKey` to an Ed25519 key",
        );
      return reply.type("application/x-pem-file").send(pem);
    },
  );

  route("postflight", "Santa: postflight (the sync completed)", async (request) => {
    await santa.postflight(request.santaMachine!, await message(request, readPostflightRequest));
    return {};
  });
}

/** Who may read a group's feeds: that group's tokens (a machine's own too), or an `audit:read` key. */
function authorizeFeed(request: FastifyRequest, santa: SantaService, group: string): void {
  const token = bearerToken(request.headers.authorization);
  if (token === undefined || token === "")
    throw new AgentUnauthorizedError(
      "send one of the group's tokens (or an API key with the `audit:read` scope) as `Authorization: Bearer <token>`",
    );
  const tokenGroup = santa.groupOfToken(token);
  if (tokenGroup !== undefined) {
    if (tokenGroup !== group)
      throw new AgentForbiddenError(
        `this token is group \`${tokenGroup}\`'s: it cannot read group \`${group}\`'s lists`,
      );
    return;
  }
  const key = request.server.clearance.keys.find(token);
  if (!key)
    throw new AgentUnauthorizedError(
      "the token is neither a Santa token of this server nor an API key (it may have been rotated out)",
    );
  if (!hasScope(key.scopes, "audit:read"))
    throw new AgentForbiddenError(`this key (\`${key.id}\`) lacks the \`audit:read\` scope`);
}

function invalid(problems: readonly ProtocolProblem[]): ProblemError {
  const first = problems[0]!;
  return new ProblemError(
    "invalid_request",
    problems.length === 1
      ? `\`${first.pointer || "(body)"}\` ${first.message}`
      : `${problems.length} problems with the request`,
    problems,
  );
}
