import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { JournalStatus } from "./audit/journal-store.js";

/** Latency buckets in seconds: decisions take microseconds, requests milliseconds. */
const FAST_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

/** Every metric the server exports, on a registry of its own (never prom-client's global one). */
/** What the review gauges show, read at scrape time. */
export interface ReviewStats {
  openCases: number;
  oldestOpenSeconds: number;
  /** exceptions in force by `<kind>/<status>` */
  exceptions: Record<string, number>;
  expiringSoon: number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly decisions = new Counter({
    name: "clearance_decisions_total",
    help: "Decisions recorded, by outcome, deciding rule (`(default)` when none) and source",
    labelNames: ["decision", "rule", "source"] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: "clearance_requests_rejected_total",
    help: "Requests answered with a problem document, by problem code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: "clearance_http_request_duration_seconds",
    help: "HTTP request latency, from the request's arrival to the answer, by route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  readonly evaluation = new Histogram({
    name: "clearance_evaluation_duration_seconds",
    help: "Time to evaluate the rules for one result (without parsing or recording)",
    buckets: FAST_BUCKETS,
    registers: [this.registry],
  });
  readonly auditWrite = new Histogram({
    name: "clearance_audit_write_duration_seconds",
    help: "Time of one audit-log group commit",
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  readonly auditBatch = new Histogram({
    name: "clearance_audit_batch_entries",
    help: "Entries written per audit-log group commit",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [this.registry],
  });
  readonly auditFailures = new Counter({
    name: "clearance_audit_write_failures_total",
    help: "Group commits that failed (their decisions were refused with 503)",
    registers: [this.registry],
  });
  readonly auditAvailable = new Gauge({
    name: "clearance_audit_available",
    help: "1 while the audit log can record; 0 while it is unavailable (decisions are refused) or damaged",
    registers: [this.registry],
  });
  readonly auditOutages = new Histogram({
    name: "clearance_audit_outage_duration_seconds",
    help: "How long each audit-log outage lasted, observed when it ended",
    buckets: [0.1, 1, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });
  /** set by whoever owns the audit log; read at scrape time */
  auditQueueLength: () => number = () => 0;
  /** the embedded log's journal, when it has one (set by whoever owns the log) */
  auditJournal: () => JournalStatus | undefined = () => undefined;
  readonly auditIndexLag: Gauge = new Gauge({
    name: "clearance_audit_index_lag_entries",
    help: "Entries the audit journal acknowledged that its SQLite index has not applied yet",
    registers: [this.registry],
    collect: () => {
      this.auditIndexLag.set(this.auditJournal()?.lagEntries ?? 0);
    },
  });
  readonly auditIndexLagSeconds: Gauge = new Gauge({
    name: "clearance_audit_index_lag_seconds",
    help: "Age of the oldest acknowledged entry the audit index has not applied (0 when caught up); readiness fails past audit.sqlite.journal.maxIndexLagSeconds",
    registers: [this.registry],
    collect: () => {
      this.auditIndexLagSeconds.set(this.auditJournal()?.lagSeconds ?? 0);
    },
  });
  readonly auditJournalBytes: Gauge = new Gauge({
    name: "clearance_audit_journal_bytes",
    help: "Bytes the audit journal's segments take on disk",
    registers: [this.registry],
    collect: () => {
      this.auditJournalBytes.set(this.auditJournal()?.bytes ?? 0);
    },
  });
  readonly auditJournalCut: Gauge = new Gauge({
    name: "clearance_audit_journal_cut_bytes",
    help: "Bytes cut from the audit journal's tail at start: a group commit a crash left unfinished, never acknowledged",
    registers: [this.registry],
    collect: () => {
      this.auditJournalCut.set(this.auditJournal()?.repaired?.bytes ?? 0);
    },
  });
  readonly auditQueue: Gauge = new Gauge({
    name: "clearance_audit_queue_entries",
    help: "Entries waiting for the next audit-log group commit",
    registers: [this.registry],
    collect: () => {
      this.auditQueue.set(this.auditQueueLength());
    },
  });
  readonly reloads = new Counter({
    name: "clearance_ruleset_reloads_total",
    help: "Rule set reload attempts by result (`ok`, `failed`) and trigger (`watch`, `signal`, `api`)",
    labelNames: ["result", "trigger"] as const,
    registers: [this.registry],
  });
  readonly reloadFailing = new Gauge({
    name: "clearance_ruleset_reload_failing",
    help: "1 while the last reload failed and the previous rules are still served",
    registers: [this.registry],
  });
  readonly rulesetInfo = new Gauge({
    name: "clearance_ruleset_info",
    help: "The live rule set: always 1, labelled with its revision",
    labelNames: ["revision", "role"] as const,
    registers: [this.registry],
  });
  readonly notifications = new Counter({
    name: "clearance_notifications_total",
    help: "Notification POSTs by target and result (`delivered`, `failed`: retried later)",
    labelNames: ["target", "result"] as const,
    registers: [this.registry],
  });
  /** set by whoever owns the outbox; read at scrape time */
  outboxPending: () => Promise<number> = async () => 0;
  readonly outbox: Gauge = new Gauge({
    name: "clearance_outbox_pending",
    help: "Notifications in the outbox not yet acknowledged by their receiver",
    registers: [this.registry],
    collect: async () => {
      this.outbox.set(await this.outboxPending().catch(() => Number.NaN));
    },
  });
  readonly syncResults = new Counter({
    name: "clearance_sync_results_total",
    help: "Results pulled from the platform by the sync, by outcome (`decided`, `skipped`: already decided, `invalid`)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly syncFailures = new Counter({
    name: "clearance_sync_failures_total",
    help: "Sync rounds that stopped on an error (the next round resumes from the saved cursor)",
    registers: [this.registry],
  });
  readonly shadowDisagreements = new Counter({
    name: "clearance_shadow_disagreements_total",
    help: "Decisions where the shadow rule set answered differently, by live and shadow decision",
    labelNames: ["live", "shadow"] as const,
    registers: [this.registry],
  });
  /** set by the review service; read at scrape time */
  reviewStats: () => ReviewStats = () => ({
    openCases: 0,
    oldestOpenSeconds: 0,
    exceptions: {},
    expiringSoon: 0,
  });
  readonly openCases: Gauge = new Gauge({
    name: "clearance_review_cases_open",
    help: "Review cases waiting for an answer",
    registers: [this.registry],
    collect: () => {
      this.openCases.set(this.reviewStats().openCases);
    },
  });
  readonly oldestCase: Gauge = new Gauge({
    name: "clearance_review_oldest_open_seconds",
    help: "Age of the oldest open review case (0 when none is open)",
    registers: [this.registry],
    collect: () => {
      this.oldestCase.set(this.reviewStats().oldestOpenSeconds);
    },
  });
  readonly votes = new Counter({
    name: "clearance_review_votes_total",
    help: "Votes recorded, by vote (`approve`, `reject`)",
    labelNames: ["vote"] as const,
    registers: [this.registry],
  });
  readonly casesClosed = new Counter({
    name: "clearance_review_cases_closed_total",
    help: "Review cases closed, by how (`approved`, `rejected`, `withdrawn`, `expired`)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly activeExceptions: Gauge = new Gauge({
    name: "clearance_exceptions_active",
    help: "Exceptions in force, by kind (`file`, `signer`, `vendor`) and status (`approved`, `rejected`)",
    labelNames: ["kind", "status"] as const,
    registers: [this.registry],
    collect: () => {
      this.activeExceptions.reset();
      for (const [key, n] of Object.entries(this.reviewStats().exceptions)) {
        const [kind, status] = key.split("/");
        this.activeExceptions.set({ kind: kind!, status: status! }, n);
      }
    },
  });
  readonly expiringExceptions: Gauge = new Gauge({
    name: "clearance_exceptions_expiring_soon",
    help: "Exceptions in force that expire within 7 days",
    registers: [this.registry],
    collect: () => {
      this.expiringExceptions.set(this.reviewStats().expiringSoon);
    },
  });

  readonly siemSent = new Counter({
    name: "clearance_siem_events_sent_total",
    help: "Events a SIEM sink's receiver acknowledged, by sink",
    labelNames: ["sink"] as const,
    registers: [this.registry],
  });
  readonly siemFailures = new Counter({
    name: "clearance_siem_send_failures_total",
    help: "Batches a SIEM sink failed to send (retried, or dead-lettered), by sink and whether a retry could help",
    labelNames: ["sink", "retryable"] as const,
    registers: [this.registry],
  });
  readonly siemDeadLettered = new Counter({
    name: "clearance_siem_dead_lettered_total",
    help: "Events set aside as dead letters by this process, by sink and why (`rejected`: the receiver refused them; `expired`: undelivered past `deadLetterAfter`)",
    labelNames: ["sink", "reason"] as const,
    registers: [this.registry],
  });
  /** set by SIEM delivery; read at scrape time: per sink, seconds behind and entries behind */
  siemLag: () => Promise<{ sink: string; seconds: number; entries: number }[]> = async () => [];
  readonly siemLagSeconds: Gauge = new Gauge({
    name: "clearance_siem_lag_seconds",
    help: "Age of the oldest entry a SIEM sink has not yet had acknowledged (0 when it is caught up), by sink",
    labelNames: ["sink"] as const,
    registers: [this.registry],
    collect: async () => {
      for (const lag of await this.siemLag().catch(() => []))
        this.siemLagSeconds.set({ sink: lag.sink }, lag.seconds);
    },
  });
  readonly siemPending: Gauge = new Gauge({
    name: "clearance_siem_pending_entries",
    help: "Entries of this replica's chain after a SIEM sink's cursor, by sink",
    labelNames: ["sink"] as const,
    registers: [this.registry],
    collect: async () => {
      for (const lag of await this.siemLag().catch(() => []))
        this.siemPending.set({ sink: lag.sink }, lag.entries);
    },
  });

  readonly santaRequests = new Counter({
    name: "clearance_santa_requests_total",
    help: "Santa sync requests, by stage (`preflight`, `eventupload`, `ruledownload`, `postflight`) and outcome (`ok`, or the problem's code)",
    labelNames: ["stage", "outcome"] as const,
    registers: [this.registry],
  });
  readonly santaEvents = new Counter({
    name: "clearance_santa_events_total",
    help: "Executions Santa agents reported, by group and Clearance's decision",
    labelNames: ["group", "decision"] as const,
    registers: [this.registry],
  });
  readonly santaRulesSent = new Counter({
    name: "clearance_santa_rules_sent_total",
    help: "Santa rules sent in rule downloads, by group",
    labelNames: ["group"] as const,
    registers: [this.registry],
  });
  /** set by the Santa sync server; read at scrape time: machines per group and reported mode */
  santaModes: () => Promise<{ group: string; mode: string; machines: number }[]> = async () => [];
  /** set by the Santa sync server; read at scrape time: per group, rules behind, never synced */
  santaLag: () => Promise<{ group: string; rulesBehind: number; neverSynced: number }[]> =
    async () => [];
  readonly santaMachines: Gauge = new Gauge({
    name: "clearance_santa_machines",
    help: "Registered Santa machines, by group and the client mode they last reported",
    labelNames: ["group", "mode"] as const,
    registers: [this.registry],
    collect: async () => {
      this.santaMachines.reset();
      for (const m of await this.santaModes().catch(() => []))
        this.santaMachines.set({ group: m.group, mode: m.mode }, m.machines);
    },
  });
  readonly santaRulesBehind: Gauge = new Gauge({
    name: "clearance_santa_rules_behind",
    help: "Rule changes not yet confirmed (at postflight) by the group's machines, summed over them: the rule download lag",
    labelNames: ["group"] as const,
    registers: [this.registry],
    collect: async () => {
      this.santaRulesBehind.reset();
      for (const l of await this.santaLag().catch(() => []))
        this.santaRulesBehind.set({ group: l.group }, l.rulesBehind);
    },
  });
  readonly santaNeverSynced: Gauge = new Gauge({
    name: "clearance_santa_machines_never_synced",
    help: "Santa machines of the group that registered but never completed a sync (no postflight yet)",
    labelNames: ["group"] as const,
    registers: [this.registry],
    collect: async () => {
      this.santaNeverSynced.reset();
      for (const l of await this.santaLag().catch(() => []))
        this.santaNeverSynced.set({ group: l.group }, l.neverSynced);
    },
  });

  constructor(options: { process?: boolean } = {}) {
    if (options.process !== false) collectDefaultMetrics({ register: this.registry });
    this.auditAvailable.set(1);
  }

  private readonly revisions = new Map<string, string>();

  setRuleset(role: "live" | "shadow", revision: string): void {
    const previous = this.revisions.get(role);
    if (previous !== undefined) this.rulesetInfo.remove({ revision: previous, role });
    this.revisions.set(role, revision);
    this.rulesetInfo.set({ revision, role }, 1);
  }
}
