import {
  PlatformUnavailableError as ClientUnavailableError,
  type FileResult,
  PlatformClient,
  PlatformError,
  RateLimitedError,
  TimeoutError,
} from "@clearance/client";
import type { ServerConfig } from "./config.js";
import { PlatformRefusedError, PlatformUnavailableError } from "./errors.js";
import type { PlatformResult, PlatformResults } from "./sync.js";

function toResult(f: FileResult): PlatformResult {
  return {
    sha256: f.file.sha256.toLowerCase(),
    version: typeof f.file.version === "number" ? f.file.version : 1,
    analyzedAt: typeof f.file.analyzed_at === "string" ? f.file.analyzed_at : "",
    outcome: f.result,
  };
}

/**
 * The platform as the server sees it: results mapped to canonical outcomes, and the client's
 * errors turned into the server's (the platform unavailable, or refusing): the platform's trouble
 * is never mistaken for a bug of ours, and never a decision on missing data.
 */
export class Platform implements PlatformResults {
  readonly client: PlatformClient;

  constructor(config: NonNullable<ServerConfig["platform"]>) {
    this.client = new PlatformClient({
      baseUrl: config.url,
      apiKey: config.apiKey,
      cache: config.cacheTtlMs === 0 ? false : { ttlMs: config.cacheTtlMs, max: config.cacheMax },
    });
  }

  async getResult(
    sha256: string,
    options: { fresh?: boolean } = {},
  ): Promise<PlatformResult | undefined> {
    try {
      const f = await this.client.getFile(sha256, options.fresh ? { fresh: true } : undefined);
      return f && toResult(f);
    } catch (error) {
      throw asDomainError(error);
    }
  }

  async *listResults(query: { since: string }): AsyncIterable<PlatformResult> {
    for await (const f of this.client.listFiles({ since: query.since })) yield toResult(f);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** Seconds a caller is told to wait when the platform is unavailable. */
const PLATFORM_RETRY_AFTER_SECONDS = 5;

function asDomainError(error: unknown): Error {
  if (
    error instanceof ClientUnavailableError ||
    error instanceof RateLimitedError ||
    error instanceof TimeoutError
  )
    return new PlatformUnavailableError(
      `the platform: ${error.message}`,
      PLATFORM_RETRY_AFTER_SECONDS,
      { cause: error },
    );
  if (error instanceof PlatformError)
    return new PlatformRefusedError(`the platform: ${error.message}`, [], { cause: error });
  return error as Error;
}
