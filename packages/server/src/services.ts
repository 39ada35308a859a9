import { AuditDamagedError, type AuditStore } from "./audit/backend.js";
import type { JournalStatus } from "./audit/journal-store.js";
import { AuditLog, type AuditLogOptions } from "./audit/log.js";
import { PostgresBackend, STATEMENT_TIMEOUT_MS } from "./audit/postgres.js";
import { SqliteBackend } from "./audit/sqlite.js";
import { setAside } from "./audit/sqlite-files.js";
import { KeyRing } from "./auth.js";
import type { ServerConfig } from "./config.js";
import { DecisionService } from "./decide.js";
import { Metrics } from "./metrics.js";
import { Notifier } from "./notify.js";
import { Platform } from "./platform.js";
import { PlaygroundService } from "./playground.js";
import { REDECIDE_TARGET, ReviewService } from "./reviews.js";
import { type ReloadOutcome, RulesHolder } from "./rules.js";
import { SantaService } from "./santa.js";
import { ServerEvents } from "./server-events.js";
import { SiemDelivery, sinksFrom } from "./siem.js";
import { SiemEventSource } from "./siem-events.js";
import { SignIn } from "./signin.js";
import { PlatformSync, type SyncReport } from "./sync.js";
import { VirusTotalResults } from "./virustotal.js";
import { WebhookService } from "./webhook.js";

/** Everything the HTTP layer talks to, built from a config. Nothing here listens. */
export interface Services {
  config: Readonly<ServerConfig>;
  rules: RulesHolder;
  shadow: RulesHolder | null;
  audit: AuditLog;
  decisions: DecisionService;
  /** candidate rules tried on threads, beside the live ones: never made live */
  playground: PlaygroundService;
  reviews: ReviewService;
  webhooks: WebhookService;
  metrics: Metrics;
  keys: KeyRing;
  /** console sign-in: sessions, OpenID Connect */
  signIn: SignIn;
  notifier: Notifier | null;
  /** SIEM delivery, when sinks are configured */
  siem: SiemDelivery | null;
  /** rule-set and verification events recorded in the chain */
  serverEvents: ServerEvents;
  platform: Platform | null;
  sync: PlatformSync | null;
  /** the Santa sync server, when `santa.enabled` */
  santa: SantaService | null;
  /** the damaged log set aside at start for a new one (`audit.startNewLog`), for the server to log */
  replacedLog: { reason: string; movedTo: string[] } | null;
  /** an SQLite log created at start because there was no file: where (for the server to log) */
  createdLog: string | null;
  /** what opening the embedded log's journal found and did, for the server to log */
  journal: (Pick<JournalStatus, "repaired" | "migrated" | "created"> & { dir: string }) | null;
  close(): Promise<void>;
}

/**
 * A decision whose entry is not committed this long after it was decided is refused, whatever the
 * store does: the documented statement limit, held end to end even when packets vanish.
 */
export const RECORD_DEADLINE_MS = STATEMENT_TIMEOUT_MS;
/** While the log is unavailable, how often it is probed, so that its recovery is seen (and logged). */
const RECOVERY_PROBE_MS = 1_000;

export interface ServiceHooks {
  /** told of every reload, for logging */
  onReload?: (role: "live" | "shadow", outcome: ReloadOutcome, trigger: string) => void;
  /** collect Node.js process metrics (off in tests that build many apps) */
  processMetrics?: boolean;
  /** the notification sender could not read or update the outbox */
  onNotifyError?: (error: Error) => void;
  /** a sync round finished, or stopped on an error */
  onSync?: (report: SyncReport | undefined, error?: Error) => void;
  /** a review sweep (expiries, other replicas' entries) failed; the next one tries again */
  onReviewError?: (error: Error) => void;
  /** a SIEM sink failed to send (it retries) or could not read the log */
  onSiemError?: (sink: string, error: Error) => void;
  /** the Santa sync server could not follow a re-decision to its rules */
  onSantaError?: (error: Error) => void;
  /** a rule-set or verification event could not be recorded */
  onServerEventError?: (error: Error) => void;
  /** the time decisions, cases and exceptions are made at (tests move it) */
  clock?: () => number;
}

/**
 * The configured audit store, not yet opened (`AuditStore.open`, or `AuditLog.open`). `readonly`
 * for tools that only read it: no lock, no migration.
 */
export function openBackend(
  config: Readonly<ServerConfig>,
  options: { readonly?: boolean } = {},
): AuditStore {
  const a = config.audit;
  const readonly = options.readonly === true;
  if (a.backend === "postgres")
    return new PostgresBackend({
      url: a.postgres.url!,
      poolSize: a.postgres.poolSize,
      schema: a.postgres.schema,
      readonly,
    });
  return new SqliteBackend({
    path: a.sqlite.path,
    synchronous: a.sqlite.synchronous,
    writerThread: true,
    maxBatch: a.maxBatch,
    readers: a.sqlite.readers,
    startupCheck: a.sqlite.startupCheck,
    journal: a.sqlite.journal.enabled && {
      segmentBytes: a.sqlite.journal.segmentBytes,
      maxIndexLagSeconds: a.sqlite.journal.maxIndexLagSeconds,
      indexWaitMs: a.sqlite.journal.indexWaitMs,
    },
    readonly,
  });
}

/**
 * Opens the configured log and checks it (`AuditLog.open`). A damaged or emptied log is refused
 * (AuditDamagedError) unless `audit.startNewLog`: then an SQLite log is moved aside, kept for
 * recovery, and a new one started. PostgreSQL has no file to move: a new log there is a new schema.
 */
async function openAuditLog(
  config: Readonly<ServerConfig>,
  options: AuditLogOptions,
): Promise<{ audit: AuditLog; replaced: Services["replacedLog"] }> {
  const attempt = async (): Promise<AuditLog> => {
    const store = openBackend(config);
    const audit = new AuditLog(store, options);
    try {
      await audit.open();
      return audit;
    } catch (error) {
      await store.close().catch(() => {});
      throw error;
    }
  };
  try {
    return { audit: await attempt(), replaced: null };
  } catch (error) {
    if (
      !(error instanceof AuditDamagedError) ||
      !config.audit.startNewLog ||
      config.audit.backend !== "sqlite"
    )
      throw error;
    const movedTo = setAside(config.audit.sqlite.path);
    return { audit: await attempt(), replaced: { reason: error.message, movedTo } };
  }
}

/** Compiles the rules (throws RulesLoadError), opens and migrates the audit log, wires the metrics. */
export async function createServices(
  config: Readonly<ServerConfig>,
  hooks: ServiceHooks = {},
): Promise<Services> {
  const metrics = new Metrics({ process: hooks.processMetrics !== false });
  // set once the review service exists: a reload of the live rules may withdraw open cases
  let rulesChanged: ((revision: string) => void) | undefined;
  // set once the log is open: reloads of the live rules are recorded in the chain
  let recordReload: ((outcome: ReloadOutcome, trigger: string) => void) | undefined;
  const holder = (role: "live" | "shadow", dir: string) =>
    RulesHolder.load(dir, {
      watch: config.rules.watch,
      debounceMs: config.rules.debounceMs,
      allowNoExpiry: config.reviews.exceptionExpiry.allowNoExpiry,
      onReload: (outcome, trigger) => {
        metrics.reloads.inc({ result: outcome.ok ? "ok" : "failed", trigger });
        if (role === "live") metrics.reloadFailing.set(outcome.ok ? 0 : 1);
        if (outcome.ok) metrics.setRuleset(role, outcome.revision);
        if (outcome.ok && outcome.changed && role === "live") rulesChanged?.(outcome.revision);
        if (role === "live") recordReload?.(outcome, trigger);
        hooks.onReload?.(role, outcome, trigger);
      },
    });
  const rules = await holder("live", config.rules.dir);
  let shadow: RulesHolder | null = null;
  let audit: AuditLog | undefined;
  try {
    shadow = config.shadow ? await holder("shadow", config.shadow.rules) : null;
    metrics.setRuleset("live", rules.ruleset.revision);
    if (shadow) metrics.setRuleset("shadow", shadow.ruleset.revision);
    let notifier: Notifier | null = null;
    let siem: SiemDelivery | null = null;
    const opened = await openAuditLog(config, {
      onNotificationsQueued: () => notifier?.wake(),
      chain: config.audit.chain,
      hmacSecret: config.audit.hmacSecret,
      maxBatch: config.audit.maxBatch,
      onCommit: (entries, seconds, ok) => {
        metrics.auditWrite.observe(seconds);
        metrics.auditBatch.observe(entries);
        if (!ok) metrics.auditFailures.inc();
        else siem?.wake();
      },
      appendTimeoutMs: RECORD_DEADLINE_MS,
      recoveryProbeMs: RECOVERY_PROBE_MS,
    });
    audit = opened.audit;
    const log = audit;
    metrics.auditQueueLength = () => log.queueLength;
    const store = log.store;
    if (store instanceof SqliteBackend) metrics.auditJournal = () => store.journalStatus();
    log.health.onChange((change) => {
      metrics.auditAvailable.set(change.to === "available" ? 1 : 0);
      if (change.to === "available") metrics.auditOutages.observe(change.downSeconds);
    });
    const targets = config.notifications.targets;
    const reviews = await ReviewService.open(log, config.reviews, metrics, {
      fileExceptions: () => rules.ruleset.exceptions,
      ...(hooks.clock ? { clock: hooks.clock } : {}),
    });
    // the outbox also carries re-decisions (`@redecide`), which the server sends to itself
    notifier = new Notifier(audit, {
      targets,
      retry: config.notifications.retry,
      pollMs: config.notifications.pollMs,
      concurrency: config.notifications.concurrency,
      onResult: (target, ok) =>
        metrics.notifications.inc({ target, result: ok ? "delivered" : "failed" }),
      ...(hooks.onNotifyError ? { onError: hooks.onNotifyError } : {}),
      local: new Map([[REDECIDE_TARGET, (row) => reviews.redecideRow(row.id, row.payload)]]),
      ...(hooks.clock ? { clock: hooks.clock } : {}),
    });
    metrics.outboxPending = () => log.store.outbox.pendingNotifications(log.chain);
    const platform = config.platform ? new Platform(config.platform) : null;
    const virustotal = config.virustotal
      ? new VirusTotalResults(config.virustotal, hooks.clock ?? Date.now)
      : null;
    const siemSource =
      config.siem.sinks.length > 0
        ? new SiemEventSource(log, {
            consoleUrl: config.siem.consoleUrl ?? config.auth.oidc?.publicUrl ?? null,
          })
        : null;
    const decisions = new DecisionService(rules, shadow, audit, metrics, {
      ...(siemSource ? { observe: (record, result) => siemSource.observe(record, result) } : {}),
      redact: config.audit.redact,
      notify: targets,
      platform,
      virustotal,
      reviews,
      ...(hooks.clock ? { clock: hooks.clock } : {}),
    });
    const serverEvents = new ServerEvents(log, rules.ruleset, hooks.clock);
    const serverEventFailed = (error: Error) => hooks.onServerEventError?.(error);
    recordReload = (outcome, trigger) => {
      const recorded = outcome.ok
        ? outcome.changed
          ? serverEvents.rulesetLoaded(rules.ruleset, trigger)
          : Promise.resolve()
        : serverEvents.rulesetFailed(rules.ruleset, outcome.error, trigger);
      recorded.catch(serverEventFailed);
    };
    if (siemSource) {
      siem = new SiemDelivery(sinksFrom(config.siem.sinks), log, siemSource, metrics, {
        pollMs: config.siem.pollMs,
        readLimit: config.siem.readLimit,
        cursorSaveMs: config.siem.cursorSaveMs,
        ...(hooks.clock ? { clock: hooks.clock } : {}),
        ...(hooks.onSiemError ? { onError: hooks.onSiemError } : {}),
      });
      // events left by an earlier run (a crash, a receiver outage) go now
      siem.start();
    }
    // notifications and re-decisions left by an earlier run (a crash, a receiver outage) go now
    notifier.start();
    if (config.reviews.enabled) reviews.start((error) => hooks.onReviewError?.(error));
    rulesChanged = (revision) => {
      reviews.rulesChanged(revision).catch((error: Error) => hooks.onReviewError?.(error));
    };
    const sync =
      platform && config.sync.enabled
        ? new PlatformSync(platform, audit, decisions, {
            intervalMs: config.sync.intervalMs,
            initialLookbackMs: config.sync.lookbackDays * 86_400_000,
            onRound: (report) => {
              metrics.syncResults.inc({ outcome: "decided" }, report.decided);
              metrics.syncResults.inc({ outcome: "skipped" }, report.skipped);
              metrics.syncResults.inc({ outcome: "invalid" }, report.invalid.length);
              hooks.onSync?.(report);
            },
            onError: (error) => {
              metrics.syncFailures.inc();
              hooks.onSync?.(undefined, error);
            },
          })
        : null;
    const santa = config.santa.enabled
      ? new SantaService(
          config.santa,
          log,
          decisions,
          metrics,
          () => rules.ruleset.contextFields,
          () => [...reviews.activeRecords(), ...rules.ruleset.exceptions],
          hooks.clock ?? Date.now,
          (error) => hooks.onSantaError?.(error),
        )
      : null;
    const keys = new KeyRing(config.auth.keys);
    const playground = new PlaygroundService(rules, log, config.playground, hooks.clock);
    return {
      config,
      rules,
      shadow,
      audit: log,
      decisions,
      playground,
      reviews,
      webhooks: new WebhookService(decisions, log, {
        secret: config.webhook.secret,
        toleranceSeconds: config.webhook.toleranceSeconds,
        replayCacheMax: config.webhook.replayCacheMax,
        busyRetryAfterSeconds: config.limits.pressure.retryAfterSeconds,
      }),
      metrics,
      keys,
      signIn: new SignIn(config, keys, hooks.clock ?? Date.now),
      notifier,
      siem,
      serverEvents,
      platform,
      sync,
      santa,
      replacedLog: opened.replaced,
      createdLog: log.store instanceof SqliteBackend && log.store.created ? log.store.path : null,
      journal: journalOpening(log.store),
      async close() {
        rules.stopWatching();
        shadow?.stopWatching();
        await sync?.stop();
        await reviews.stop();
        await notifier?.stop();
        await siem?.stop();
        await playground.close();
        await log.close();
        await platform?.close();
        await virustotal?.close();
      },
    };
  } catch (error) {
    rules.stopWatching();
    shadow?.stopWatching();
    await audit?.close().catch(() => {});
    throw error;
  }
}

/** What opening the journal found, for the server's start lines; null without one. */
function journalOpening(store: AuditStore): Services["journal"] {
  if (!(store instanceof SqliteBackend)) return null;
  const status = store.journalStatus();
  if (!status) return null;
  return {
    dir: status.dir,
    repaired: status.repaired,
    migrated: status.migrated,
    created: status.created,
  };
}
