/**
 * The commands' one way to talk to a Clearance server over HTTP (`gate --server`, `reviews`,
 * `exceptions`): the URL, the key from `$CLEARANCE_SERVER_KEY`, JSON in and out, and the
 * server's problem answers (`application/problem+json`, docs/http-api.md) as errors that keep
 * their code, detail and problems.
 */
import { CliError } from "./output.js";

/** Where `clearance serve` listens by default (server.host, server.port). */
export const DEFAULT_SERVER = "http://127.0.0.1:8080";

export interface ServerConnection {
  /** the server's base URL, e.g. `http://127.0.0.1:8080` */
  url: string;
  /** an API key, sent as a bearer token; none on a server without keys */
  key?: string | undefined;
  /** stops the request and the reading of its answer */
  signal?: AbortSignal;
}

export interface ServerRequest {
  /** query parameters; undefined ones are left out */
  query?: Readonly<Record<string, string | number | undefined>>;
  /** sent as JSON */
  body?: unknown;
}

/** One problem of a problem answer: a JSON Pointer into the request, and what is wrong there. */
export interface ServerProblemDetail {
  pointer: string;
  message: string;
}

/** The server could not be reached, or its answer not read. */
export class ServerUnreachableError extends CliError {
  override name = "ServerUnreachableError";
}

/**
 * The server answered with an error: its problem's code, detail and problems. The message is the
 * detail, then one line per problem (`  /justification: must say why, in words`).
 */
export class ServerProblemError extends CliError {
  override name = "ServerProblemError";
  constructor(
    readonly status: number,
    readonly code: string | null,
    readonly detail: string,
    readonly problems: readonly ServerProblemDetail[],
    hint?: string,
  ) {
    super([detail, ...problems.map((p) => `  ${p.pointer || "/"}: ${p.message}`)].join("\n"), hint);
  }
}

/** The URL of `path` on the server, with the query's defined parameters. */
export function endpoint(base: string, path: string, query: ServerRequest["query"] = {}): string {
  const url = new URL(`${base.replace(/\/+$/, "")}${path}`);
  for (const [name, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(name, String(value));
  return url.toString();
}

/** What to do about a problem the CLI can help with: a missing key, a missing name. */
function hintFor(status: number, problems: readonly ServerProblemDetail[]): string | undefined {
  if (status === 401)
    return "set CLEARANCE_SERVER_KEY to an API key of the server (`clearance keys create`)";
  if (problems.some((p) => p.pointer === "/voter" || p.pointer === "/by"))
    return "name yourself with --as NAME (a server without API keys records that name)";
  return undefined;
}

/** Reads a problem answer's fields, whatever the body holds. */
function problemOf(status: number, body: unknown): ServerProblemError {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const detail =
    typeof b.detail === "string" && b.detail !== ""
      ? b.detail
      : `the Clearance server answered ${status}`;
  const problems = Array.isArray(b.problems)
    ? b.problems.flatMap((p) =>
        typeof p === "object" && p !== null && typeof p.message === "string"
          ? [{ pointer: typeof p.pointer === "string" ? p.pointer : "", message: p.message }]
          : [],
      )
    : [];
  return new ServerProblemError(
    status,
    typeof b.code === "string" ? b.code : null,
    detail,
    problems,
    hintFor(status, problems),
  );
}

/**
 * Sends one request and reads its JSON answer. A 2xx answer is returned with its status; any
 * other is thrown as a ServerProblemError. A server that cannot be reached, or an answer that is
 * not JSON, is a ServerUnreachableError. When `signal` fires, its abort reason is thrown as is,
 * so that the caller can say which deadline passed.
 */
export async function serverRequest<T = unknown>(
  connection: ServerConnection,
  method: "GET" | "POST" | "DELETE",
  path: string,
  request: ServerRequest = {},
): Promise<{ status: number; body: T }> {
  const { url, key, signal } = connection;
  let res: Response;
  try {
    res = await fetch(endpoint(url, path, request.query), {
      method,
      headers: {
        accept: "application/json",
        ...(request.body === undefined ? {} : { "content-type": "application/json" }),
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw new ServerUnreachableError(
      `cannot reach the Clearance server at ${url}: ${causeOf(error)}`,
      `start one with \`clearance serve\`, or pass --server <url>`,
    );
  }
  let text: string;
  try {
    // the same signal stops an answer that arrives slowly, not only a late one
    text = await res.text();
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw new ServerUnreachableError(
      `cannot read the Clearance server's answer to ${method} ${path}: ${causeOf(error)}`,
    );
  }
  let body: unknown = null;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    if (res.ok)
      throw new ServerUnreachableError(
        `the Clearance server's answer to ${method} ${path} is not JSON (status ${res.status})`,
        `is ${url} a Clearance server?`,
      );
  }
  if (!res.ok) throw problemOf(res.status, body);
  return { status: res.status, body: body as T };
}

/** `fetch failed` says little: the cause (`connect ECONNREFUSED 127.0.0.1:1`) says more. */
function causeOf(error: unknown): string {
  const e = error as Error & { cause?: { message?: string } };
  return e.cause?.message ?? e.message;
}
