/**
 * The VirusTotal v3 mode: `GET /api/v3/files/{id}` as VirusTotal answers it (the id an MD5, a
 * SHA-1 or a SHA-256 of the file), built from the simulator's files, with VirusTotal's authentication (`x-apikey`), per-key quotas (a minute and a
 * UTC day) and error bodies (`{"error": {"code", "message"}}` with VirusTotal's codes:
 * docs.virustotal.com/reference/errors). The platform's rate limit and faults do not apply here.
 */
import type { FastifyInstance } from "fastify";
import type { ResolvedVirusTotal } from "./options.js";
import { queuedVirusTotalFile, simulatedVirusTotalFile } from "./results.js";
import type { SimulatorState } from "./state.js";

/** The VirusTotal error codes the mode answers with, and their statuses. */
export const VIRUSTOTAL_ERROR_CODES = Object.freeze({
  InvalidArgumentError: 400,
  AuthenticationRequiredError: 401,
  WrongCredentialsError: 401,
  NotFoundError: 404,
  QuotaExceededError: 429,
} as const);
export type VirusTotalErrorCode = keyof typeof VIRUSTOTAL_ERROR_CODES;

/** A VirusTotal error answer. */
export class VirusTotalError extends Error {
  readonly status: number;
  constructor(
    readonly code: VirusTotalErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "VirusTotalError";
    this.status = VIRUSTOTAL_ERROR_CODES[code];
  }
  body(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * Requests per key in the current minute (windows aligned to whole minutes) and the current UTC
 * day. Every answered request counts, a 404 included, as on VirusTotal; a refused one does not.
 */
export class VirusTotalQuotas {
  #used = new Map<string, { minute: number; inMinute: number; day: number; inDay: number }>();

  constructor(readonly options: ResolvedVirusTotal) {}

  /** Counts one request of `key`, or throws `QuotaExceededError` naming the quota. */
  take(key: string, nowMs: number): void {
    const limits = this.options.keys.find((k) => k.key === key);
    if (limits === undefined) return;
    const minute = Math.floor(nowMs / MINUTE_MS);
    const day = Math.floor(nowMs / DAY_MS);
    let used = this.#used.get(key);
    if (used === undefined) {
      used = { minute, inMinute: 0, day, inDay: 0 };
      this.#used.set(key, used);
    }
    if (used.minute !== minute) Object.assign(used, { minute, inMinute: 0 });
    if (used.day !== day) Object.assign(used, { day, inDay: 0 });
    if (used.inDay >= limits.perDay)
      throw new VirusTotalError(
        "QuotaExceededError",
        `daily quota of ${limits.perDay} requests exceeded; it resets at 00:00 UTC`,
      );
    if (used.inMinute >= limits.perMinute)
      throw new VirusTotalError(
        "QuotaExceededError",
        `quota of ${limits.perMinute} requests a minute exceeded`,
      );
    used.inMinute++;
    used.inDay++;
  }

  reset(): void {
    this.#used.clear();
  }
}

/** An MD5, a SHA-1 or a SHA-256: the ids VirusTotal takes for a file. */
const FILE_ID = /^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/;

/** Registers the mode's routes on the simulator (only when `virustotal` is configured). */
export async function virustotalRoutes(
  app: FastifyInstance,
  state: SimulatorState,
  quotas: VirusTotalQuotas,
): Promise<void> {
  await app.register(
    async (vt) => {
      vt.setErrorHandler((error, _request, reply) => {
        const e =
          error instanceof VirusTotalError
            ? error
            : new VirusTotalError("InvalidArgumentError", (error as Error).message);
        return reply.code(e.status).send(e.body());
      });
      vt.setNotFoundHandler((request, reply) => {
        const e = new VirusTotalError(
          "NotFoundError",
          `no route \`${request.method} ${request.url}\``,
        );
        return reply.code(e.status).send(e.body());
      });
      vt.get<{ Params: { id: string } }>("/files/:id", async (request) => {
        const raw = request.headers["x-apikey"];
        const key = Array.isArray(raw) ? raw[0] : raw;
        if (key === undefined || key === "")
          throw new VirusTotalError("AuthenticationRequiredError", "X-Apikey header is missing");
        if (!quotas.options.keys.some((k) => k.key === key))
          throw new VirusTotalError("WrongCredentialsError", "Wrong API key");
        quotas.take(key, state.now());
        const id = request.params.id;
        const sha256 = FILE_ID.test(id) ? state.sha256ByHash(id.toLowerCase()) : undefined;
        const analysis =
          sha256 === undefined ? { state: "unknown" as const } : state.analysisOf(sha256);
        if (sha256 === undefined || analysis.state === "unknown")
          throw new VirusTotalError("NotFoundError", `File "${id}" not found`);
        if (analysis.state === "queued")
          return queuedVirusTotalFile(sha256, analysis.facts, state.now());
        return simulatedVirusTotalFile(sha256, state.options.seed, analysis.facts);
      });
    },
    { prefix: "/api/v3" },
  );
}
