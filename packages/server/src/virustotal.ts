/**
 * VirusTotal as a source of results for the server's fetch-on-miss: reports through
 * `VirusTotalClient` (its quotas and cache), mapped by the VirusTotal adapter. A file VirusTotal
 * never saw is no result; an analysis still queued is never decided; a day's quota used up is the
 * source unavailable until 00:00 UTC.
 */
import {
  PlatformUnavailableError as ClientUnavailableError,
  PlatformError,
  TimeoutError,
  VirusTotalClient,
} from "@clearance/client";
import { toCanonical } from "@clearance/engine";
import type { ServerConfig } from "./config.js";
import {
  PlatformRefusedError,
  PlatformResultInvalidError,
  PlatformUnavailableError,
} from "./errors.js";
import type { PlatformResult } from "./sync.js";

/** Seconds a caller is told to wait when VirusTotal cannot be reached. */
const RETRY_AFTER_SECONDS = 5;

export class VirusTotalResults {
  readonly client: VirusTotalClient;

  constructor(
    config: NonNullable<ServerConfig["virustotal"]>,
    private readonly now: () => number = Date.now,
  ) {
    this.client = new VirusTotalClient({
      baseUrl: config.url,
      apiKey: config.apiKey,
      quota: { perMinute: config.perMinute, perDay: config.perDay },
      cache: config.cacheTtlMs === 0 ? false : { ttlMs: config.cacheTtlMs, max: config.cacheMax },
      // a request waits for the minute's quota at most this long, then is told when to come back
      maxWaitMs: config.maxWaitMs,
      now,
    });
  }

  /** The report of a file as a result, or undefined when VirusTotal never saw it. */
  async getResult(
    sha256: string,
    options: { fresh?: boolean } = {},
  ): Promise<PlatformResult | undefined> {
    let outcome: Awaited<ReturnType<VirusTotalClient["getFile"]>>;
    try {
      outcome = await this.client.getFile(sha256, options.fresh ? { fresh: true } : undefined);
    } catch (error) {
      throw asDomainError(error);
    }
    switch (outcome.kind) {
      case "not_found":
        return undefined;
      case "queued":
        throw new PlatformResultInvalidError(
          `VirusTotal's analysis of \`${outcome.id}\` is still queued: nothing to decide yet, ask again later`,
          [
            {
              pointer: "virustotal:/data/attributes/last_analysis_date",
              message: "is missing: the analysis is queued",
            },
          ],
        );
      case "quota_exhausted": {
        const seconds = Math.max(1, Math.ceil((Date.parse(outcome.resetsAt) - this.now()) / 1000));
        throw new PlatformUnavailableError(
          `VirusTotal: the key's daily quota is used up until ${outcome.resetsAt}`,
          seconds,
        );
      }
      case "rate_limited":
        throw new PlatformUnavailableError(
          `VirusTotal: the key's ${this.client.options.quota.perMinute} requests a minute are used up`,
          Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)),
        );
      case "report": {
        const attributes = outcome.report.data.attributes;
        const date = Number(attributes.last_analysis_date);
        return {
          sha256: outcome.sha256,
          version: 1,
          analyzedAt: new Date(date * 1000).toISOString(),
          outcome: toCanonical(outcome.report, { format: "virustotal" }),
        };
      }
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function asDomainError(error: unknown): Error {
  if (error instanceof ClientUnavailableError || error instanceof TimeoutError)
    return new PlatformUnavailableError(`VirusTotal: ${error.message}`, RETRY_AFTER_SECONDS, {
      cause: error,
    });
  if (error instanceof PlatformError)
    return new PlatformRefusedError(`VirusTotal: ${error.message}`, [], { cause: error });
  return error as Error;
}
