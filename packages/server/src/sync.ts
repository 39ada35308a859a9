import type { CanonicalOutcome } from "@clearance/engine";
import { DuplicateDeliveryError } from "./audit/backend.js";
import type { AuditLog } from "./audit/log.js";
import type { DecisionService } from "./decide.js";

/** One analysis as the platform reports it, already mapped to a canonical outcome. */
export interface PlatformResult {
  sha256: string;
  /** the platform's result version: a re-analysis is a new version, decided again */
  version: number;
  analyzedAt: string;
  /** the canonical result, or the problems (JSON Pointers into the platform's object) */
  outcome: CanonicalOutcome;
}

/** What the server needs of a platform client (`@clearance/client` provides it). */
export interface PlatformResults {
  /** `fresh` skips any cache */
  getResult(sha256: string, options?: { fresh?: boolean }): Promise<PlatformResult | undefined>;
  listResults(query: { since: string }): AsyncIterable<PlatformResult>;
}

export interface SyncOptions {
  intervalMs: number;
  /** how far back the first run starts, in milliseconds before now */
  initialLookbackMs: number;
  onRound?: (report: SyncReport) => void;
  onError?: (error: Error) => void;
}

export interface SyncReport {
  seen: number;
  decided: number;
  skipped: number;
  invalid: { sha256: string; version: number; problems: { pointer: string; message: string }[] }[];
  cursor: string;
}

const CURSOR_KEY = "sync.platform.since";
/** The cursor is saved every this many results, so a crash repeats little work. */
const SAVE_EVERY = 100;

/** The delivery id of a result version: recorded with its entry, it makes a rerun skip it. */
export function syncKey(r: Pick<PlatformResult, "sha256" | "version">): string {
  return `platform:${r.sha256}:v${r.version}`;
}

/**
 * Pulls new results from the platform and decides them, for deployments without webhooks.
 * Exactly once per result version: each decision records `platform:<sha256>:v<version>` in its
 * entry's transaction, and results already recorded are skipped. The cursor (the last
 * `analyzed_at` seen) is kept in the audit database; the listing's `since` is inclusive, so results
 * sharing the cursor's instant are listed again and skipped by their key: no gap, no duplicate.
 */
export class PlatformSync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SyncReport | undefined> | undefined;
  private stopped = false;

  constructor(
    private readonly platform: PlatformResults,
    private readonly audit: AuditLog,
    private readonly decisions: DecisionService,
    private readonly options: SyncOptions,
  ) {}

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  private async tick(): Promise<void> {
    await this.runOnce();
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** One round; concurrent calls share it. Errors end the round (the next one resumes). */
  runOnce(): Promise<SyncReport | undefined> {
    this.running ??= this.round()
      .then(
        (report) => {
          this.options.onRound?.(report);
          return report;
        },
        (error: Error) => {
          this.options.onError?.(error);
          return undefined;
        },
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async round(): Promise<SyncReport> {
    const saved = await this.audit.store.state.get(CURSOR_KEY);
    let cursor = saved ?? new Date(Date.now() - this.options.initialLookbackMs).toISOString();
    const report: SyncReport = { seen: 0, decided: 0, skipped: 0, invalid: [], cursor };
    let sinceSave = 0;
    for await (const r of this.platform.listResults({ since: cursor })) {
      if (this.stopped) break;
      report.seen++;
      const key = syncKey(r);
      if (await this.audit.hasDelivery(key)) report.skipped++;
      else if (!r.outcome.ok) {
        // never decided as if it were empty: reported with the pointer at fault
        report.invalid.push({ sha256: r.sha256, version: r.version, problems: r.outcome.problems });
      } else {
        try {
          await this.decisions.decide(
            { result: r.outcome.result },
            { source: "sync", requester: "platform", deliveryId: key },
          );
          report.decided++;
        } catch (error) {
          if (!(error instanceof DuplicateDeliveryError)) throw error;
          report.skipped++;
        }
      }
      if (Date.parse(r.analyzedAt) > Date.parse(cursor)) cursor = r.analyzedAt;
      if (++sinceSave >= SAVE_EVERY) {
        await this.audit.store.state.set(CURSOR_KEY, cursor);
        sinceSave = 0;
      }
    }
    await this.audit.store.state.set(CURSOR_KEY, cursor);
    report.cursor = cursor;
    return report;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
