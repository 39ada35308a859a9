import {
  type FileResult,
  PlatformClient,
  PlatformError,
  PlatformUnavailableError,
  RateLimitedError,
  TimeoutError,
} from "@clearance/client";
import type { ServerConfig } from "./config.js";
import { ProblemError } from "./problems.js";
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
 * errors turned into problems a caller can act on (the platform's trouble is a 502 or 503, never a
 * 500 and never a decision on missing data).
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
      throw asProblem(error);
    }
  }

  async *listResults(query: { since: string }): AsyncIterable<PlatformResult> {
    for await (const f of this.client.listFiles({ since: query.since })) yield toResult(f);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export function asProblem(error: unknown): Error {
  if (
    error instanceof PlatformUnavailableError ||
    error instanceof RateLimitedError ||
    error instanceof TimeoutError
  )
    return new ProblemError("platform_unavailable", `the platform: ${error.message}`, [], {
      "retry-after": "5",
    });
  if (error instanceof PlatformError)
    return new ProblemError("platform_error", `the platform: ${error.message}`);
  return error as Error;
}
