// The Santa sync server (docs/endpoints.md). Agents report executions; each is a decision request
// whose answer is recorded in the chain like any other; the answers become Santa rules, kept per
// group with a sequence number, and each agent downloads what changed since its last sync. A
// re-decision (a review approved, an exception ended) changes the rule the next sync brings.

import type { AnalysisResult, ExceptionRecord } from "@clearance/engine";
import type {
  AgentEvent,
  EventUploadRequest,
  EventUploadResponse,
  PostflightRequest,
  PreflightRequest,
  PreflightResponse,
  RuleDownloadRequest,
  RuleDownloadResponse,
  SantaRule,
  SyncType,
} from "@clearance/santa";
import { DuplicateDeliveryError } from "./audit/backend.js";
import type { DecisionRecord } from "./audit/entry.js";
import type { AuditLog } from "./audit/log.js";
import type { FileSeen, MachineRow, RuleChange } from "./audit/santa-store.js";
import { sha256Hex } from "./auth.js";
import type { ServerConfig } from "./config.js";
import { type DecisionService, replayInput } from "./decide.js";
import {
  AgentForbiddenError,
  AgentUnauthorizedError,
  InvalidRequestError,
  NotFoundError,
  TooManyEventsError,
} from "./errors.js";
import type { Metrics } from "./metrics.js";
import type { Redecision } from "./reviews.js";
import { loadFeedKey, SantaFeeds } from "./santa-feeds.js";

type SantaConfig = ServerConfig["santa"];
type GroupConfig = SantaConfig["groups"][number];

/** A machine id as Santa makes one (a hardware UUID, or `MachineID`): printable, short. */
const MACHINE_ID = /^[\x21-\x7e]{1,128}$/;
/** Marks a result made from what the agent said, for lack of an analysis: one is fetched next time. */
export const AGENT_FACTS = "santa-agent";
/** Pauses before following a re-decision again after a failure; then it waits for the next event. */
const FOLLOW_RETRY_MS = [1_000, 5_000, 30_000, 120_000];
/** Delivery ids of the re-decisions this server makes for other groups (never followed again). */
const REDECIDE_PREFIX = "santa-redecide:";

/** The decision that stands for a file: what its Santa rule is made from. */
export type Standing = Pick<DecisionRecord, "id" | "sha256" | "decision" | "reason">;

/**
 * The Santa rule a decision stands for in a group: the file's hash allowed, blocked (with what the
 * user sees), or neither (`REMOVE`: a file under review has no rule, and the agent's mode decides).
 */
export function santaRuleFor(
  group: string,
  standing: Standing,
  blockMessage: string | null,
): RuleChange {
  const base = { group, ruleType: "BINARY", identifier: standing.sha256, decisionId: standing.id };
  switch (standing.decision) {
    case "allow":
      return { ...base, policy: "ALLOWLIST", customMsg: "" };
    case "deny":
      return {
        ...base,
        policy: "BLOCKLIST",
        customMsg: (blockMessage ?? standing.reason).slice(0, 500),
      };
    default:
      return { ...base, policy: "REMOVE", customMsg: "" };
  }
}

/** A machine allowed to sync: its row and its group's settings. */
export interface SyncingMachine {
  row: MachineRow;
  group: GroupConfig;
}

export class SantaService {
  private readonly groups = new Map<string, GroupConfig>();
  /** token SHA-256 -> the group it enrolls into, or the machine it is the token of */
  private readonly tokens = new Map<string, { group: string; machine: string | null }>();
  private readonly machineTokens = new Set<string>();

  readonly feeds: SantaFeeds;

  constructor(
    private readonly config: SantaConfig,
    private readonly audit: AuditLog,
    private readonly decisions: DecisionService,
    private readonly metrics: Metrics,
    /** the request-context fields the live rules declare */
    private readonly contextFields: () => readonly string[],
    /** the exceptions in force (the log's and the rule directory's) */
    private readonly exceptions: () => readonly ExceptionRecord[],
    private readonly clock: () => number = Date.now,
    private readonly onError: (error: Error) => void = () => {},
  ) {
    for (const g of config.groups) {
      this.groups.set(g.name, g);
      for (const t of g.tokens) this.tokens.set(t, { group: g.name, machine: null });
    }
    for (const m of config.machines) {
      this.tokens.set(m.sha256, { group: m.group, machine: m.id });
      this.machineTokens.add(m.id);
    }
    decisions.redecided = (r, record) => {
      if (record.deliveryId?.startsWith(REDECIDE_PREFIX)) return;
      void this.follow(r, record);
    };
    metrics.santaModes = async () =>
      (await this.store.machineCounts()).map((c) => ({
        group: c.group,
        mode: (c.mode ?? "unknown").toLowerCase(),
        machines: c.machines,
      }));
    metrics.santaLag = () => this.store.lag();
    this.feeds = new SantaFeeds(
      () => this.store,
      config.feedSigningKey === null ? null : loadFeedKey(config.feedSigningKey),
    );
  }

  private get store() {
    return this.audit.store.santa;
  }

  private now(): string {
    return new Date(this.clock()).toISOString();
  }

  // ---- who syncs ---------------------------------------------------------------------------

  /** The group a Santa token (a group's, or a machine's own) belongs to, or undefined. */
  groupOfToken(token: string): string | undefined {
    return this.tokens.get(sha256Hex(token))?.group;
  }

  /** Whether a group by this name is configured. */
  hasGroup(name: string): boolean {
    return this.groups.has(name);
  }

  /**
   * The machine `machineId` as `token` may sync it, registered on its first contact: a group's
   * enrollment token registers it into that group, a machine's own token only that machine. A
   * machine stays in the group it registered in: another group's token cannot sync it.
   */
  async authenticate(machineId: string, token: string | undefined): Promise<SyncingMachine> {
    if (!MACHINE_ID.test(machineId))
      throw new InvalidRequestError(
        `the machine id in the path should be 1 to 128 printable characters without spaces, got \`${machineId.slice(0, 40)}\``,
      );
    if (token === undefined || token === "")
      throw new AgentUnauthorizedError(
        "send the group's enrollment token or the machine's own as `Authorization: Bearer <token>` (Santa's `SyncExtraHeaders`)",
      );
    const holder = this.tokens.get(sha256Hex(token));
    if (!holder)
      throw new AgentUnauthorizedError(
        "the token is not one of `santa.groups[].tokens` or `santa.machines[].sha256` (it may have been rotated out)",
      );
    if (holder.machine !== null && holder.machine !== machineId)
      throw new AgentForbiddenError(
        `this token is machine \`${holder.machine}\`'s own: it cannot sync machine \`${machineId}\``,
      );
    if (holder.machine === null && this.machineTokens.has(machineId))
      throw new AgentForbiddenError(
        `machine \`${machineId}\` has a token of its own (\`santa.machines\`): sync it with that one`,
      );
    const group = this.groups.get(holder.group)!;
    // a read first: registering takes SQLite's write lock, and would wait behind the log's
    // commits at every request of every machine
    let row =
      (await this.store.machine(machineId)) ??
      (await this.store.register(machineId, group.name, this.now()));
    if (row.group !== group.name) {
      if (holder.machine === null)
        throw new AgentForbiddenError(
          `machine \`${machineId}\` is registered in group \`${row.group}\`: a token of group \`${group.name}\` cannot sync it`,
        );
      // a machine's own token names its group in the configuration, which may move it
      row = await this.store.move(machineId, group.name);
    }
    return { row, group };
  }

  private checkBodyMachine(machine: SyncingMachine, bodyId: string): void {
    if (bodyId !== "" && bodyId !== machine.row.id)
      throw new InvalidRequestError(
        `\`machine_id\` in the body is \`${bodyId.slice(0, 40)}\`, but the path names \`${machine.row.id}\``,
        [{ pointer: "/machine_id", message: `should be \`${machine.row.id}\`` }],
      );
  }

  // ---- the four stages ---------------------------------------------------------------------

  async preflight(machine: SyncingMachine, req: PreflightRequest): Promise<PreflightResponse> {
    this.checkBodyMachine(machine, req.machineId);
    const { row, group } = machine;
    await this.reconcileCertificates();
    const head = await this.store.ruleHead(group.name);
    // A first sync, one the agent asks for, or a group whose rules went back (a restored
    // database) replace the agent's rules: an incremental sync would leave rules behind.
    const clean = req.requestCleanSync || row.lastSyncAt === null || row.rulesAcked > head;
    const syncType: SyncType = clean ? "CLEAN" : "NORMAL";
    await this.store.preflight(
      row.id,
      {
        serial: req.serialNumber,
        hostname: req.hostname,
        osVersion: req.osVersion,
        osBuild: req.osBuild,
        model: req.modelIdentifier,
        santaVersion: req.santaVersion,
        primaryUser: req.primaryUser,
        clientMode: req.clientMode,
        ruleCount:
          req.binaryRuleCount +
          req.certificateRuleCount +
          req.compilerRuleCount +
          req.teamidRuleCount +
          req.signingidRuleCount +
          req.cdhashRuleCount,
      },
      { type: syncType, target: head },
      this.now(),
    );
    const answer: PreflightResponse = {
      clientMode: group.mode === "lockdown" ? "LOCKDOWN" : "MONITOR",
      syncType,
      batchSize: group.batchSize,
      fullSyncIntervalSeconds: group.fullSyncIntervalSeconds,
      enableAllEventUpload: group.enableAllEventUpload,
    };
    if (group.eventDetailUrl !== null) answer.eventDetailUrl = group.eventDetailUrl;
    return answer;
  }

  /**
   * Decides every reported execution and records it; answers once every one is recorded, so that
   * an agent that gets no answer sends them again (each has a delivery id: none is decided twice).
   */
  async eventUpload(
    machine: SyncingMachine,
    req: EventUploadRequest,
  ): Promise<EventUploadResponse> {
    this.checkBodyMachine(machine, req.machineId);
    if (req.events.length > this.config.maxEventsPerUpload)
      throw new TooManyEventsError(
        `the upload has ${req.events.length} events, more than \`santa.maxEventsPerUpload\` (${this.config.maxEventsPerUpload}); send at most that many per request (the preflight's \`batch_size\`)`,
      );
    const { row, group } = machine;
    // the files' recorded inputs in one read for the whole upload, not two a file
    const recorded = await this.audit.latestWithInputs(req.events.map((e) => e.fileSha256));
    const results = new Map<string, Promise<AnalysisResult>>();
    // an execution listed twice in one upload is one decision, as it is when uploaded again
    const byKey = new Map<string, Promise<Standing>>();
    const decided = await Promise.all(
      req.events.map(async (event) => {
        let result = results.get(event.fileSha256);
        if (!result) {
          result = this.resultFor(event, recorded.get(event.fileSha256));
          results.set(event.fileSha256, result);
        }
        const key = eventKey(event);
        let record = byKey.get(key);
        if (!record) {
          record = result.then((r) => this.decideEvent(row, group, event, key, r));
          byKey.set(key, record);
        }
        return { event, record: await record };
      }),
    );
    // per file: the last decision stands, every execution counts
    const files = new Map<string, FileSeen>();
    for (const { event, record } of decided) {
      const seen = files.get(event.fileSha256);
      files.set(event.fileSha256, {
        group: group.name,
        machineId: row.id,
        sha256: event.fileSha256,
        decisionId: record.id,
        decision: record.decision,
        executions: (seen?.executions ?? 0) + 1,
      });
      this.metrics.santaEvents.inc({ group: group.name, decision: record.decision });
    }
    const now = this.now();
    await this.store.noteFiles([...files.values()], now);
    await this.store.applyRules(
      decided
        .filter(({ event, record }) => files.get(event.fileSha256)!.decisionId === record.id)
        .map(({ record }) => santaRuleFor(group.name, record, this.config.blockMessage)),
      now,
    );
    await this.store.countEvents(row.id, req.events.length);
    return { eventUploadBundleBinaries: [] };
  }

  async ruleDownload(
    machine: SyncingMachine,
    req: RuleDownloadRequest,
  ): Promise<RuleDownloadResponse> {
    this.checkBodyMachine(machine, req.machineId);
    const { row, group } = machine;
    // without a preflight (a replayed request after the sync ended), the rules up to now
    const clean = row.syncType === "CLEAN";
    const upTo = row.syncType === null ? await this.store.ruleHead(group.name) : row.syncTarget;
    const start = clean ? 0 : row.rulesAcked;
    let after = start;
    if (req.cursor !== "") {
      const n = /^[0-9]{1,15}$/.test(req.cursor) ? Number(req.cursor) : Number.NaN;
      if (!(n >= start && n <= upTo))
        throw new InvalidRequestError(
          `cursor \`${req.cursor.slice(0, 40)}\` is not one this server gave for this sync: start again from the preflight`,
          [{ pointer: "/cursor", message: "not a cursor of this sync" }],
        );
      after = n;
    }
    const limit = this.config.rulesPerDownload;
    const rows = await this.store.rulesAfter(group.name, after, upTo, limit, clean);
    const last = rows.at(-1);
    const more = rows.length === limit && last !== undefined && last.seq < upTo;
    this.metrics.santaRulesSent.inc({ group: group.name }, rows.length);
    return {
      rules: rows.map((r) => {
        const rule: SantaRule = {
          identifier: r.identifier,
          policy: r.policy as SantaRule["policy"],
          ruleType: r.ruleType as SantaRule["ruleType"],
        };
        if (r.customMsg !== "") rule.customMsg = r.customMsg;
        return rule;
      }),
      cursor: more ? String(last.seq) : "",
    };
  }

  async postflight(machine: SyncingMachine, req: PostflightRequest): Promise<void> {
    this.checkBodyMachine(machine, req.machineId);
    const { row } = machine;
    // only a sync that began with a preflight confirms rules: a replayed postflight moves nothing
    const acked = row.syncType === null ? row.rulesAcked : row.syncTarget;
    await this.store.postflight(
      row.id,
      { acked, received: req.rulesReceived, processed: req.rulesProcessed },
      this.now(),
    );
  }

  // ---- decisions -----------------------------------------------------------------------------

  /**
   * What an execution is decided on: the file's analysis as last recorded, else as the platform
   * (or VirusTotal) has it, else only what the agent said (its hash, name and signature), which the
   * rules see as a file without an analysis.
   */
  private async resultFor(
    event: AgentEvent,
    latest: { input: unknown } | undefined,
  ): Promise<AnalysisResult> {
    const snapshot = latest?.input as { result?: unknown; format?: unknown } | null | undefined;
    if (snapshot?.result !== undefined) {
      const replayed = replayInput(snapshot);
      if (replayed.ok && replayed.result.origin !== AGENT_FACTS) return replayed.result;
    }
    const fetched = this.decisions.canFetch
      ? await this.decisions.fetchAnalysis(event.fileSha256)
      : undefined;
    return fetched ?? agentFacts(event);
  }

  private async decideEvent(
    row: MachineRow,
    group: GroupConfig,
    event: AgentEvent,
    key: string,
    result: AnalysisResult,
  ): Promise<Standing> {
    const deliveryId = `santa:${row.id}:${key}`;
    const user = event.executingUser || "unknown";
    const facts: Record<string, string> = {
      group: group.name,
      machine: row.id,
      hostname: row.hostname,
      user,
      path: event.filePath === "" ? event.fileName : `${event.filePath}/${event.fileName}`,
      teamId: event.teamId,
      signingId: event.signingId,
      agentDecision: event.decision,
      clientMode: group.mode,
    };
    // the rules see the facts they declare (`context { group: string, ... }`); they refuse others
    const context: Record<string, string> = {};
    for (const name of this.contextFields()) if (name in facts) context[name] = facts[name]!;
    try {
      const answer = await this.decisions.decide(
        { result, context, format: "canonical" },
        { source: "santa", requester: `santa:${user}@${row.id}`, deliveryId },
      );
      return {
        id: answer.decisionId,
        sha256: answer.sha256,
        decision: answer.decision,
        reason: answer.reason,
      };
    } catch (error) {
      // sent again (an agent that got no answer retries): answered as recorded
      if (!(error instanceof DuplicateDeliveryError)) throw error;
      const id = (await this.audit.deliveryEntries([deliveryId])).get(deliveryId);
      const recorded = id === undefined ? undefined : await this.audit.get(id);
      if (!recorded) throw error;
      return recorded.entry;
    }
  }

  /**
   * Follows a re-decision, trying again after a failure (the log or the Santa tables briefly
   * unavailable): each step is idempotent, by delivery id and by rule. Told to `onError` each time.
   */
  private async follow(r: Redecision, record: DecisionRecord): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.followRedecision(r, record);
      } catch (error) {
        this.onError(error as Error);
        if (attempt >= FOLLOW_RETRY_MS.length) return;
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_RETRY_MS[attempt]).unref());
      }
    }
  }

  /**
   * A file was decided again (its review case resolved, an exception created or ended): the new
   * answer stands for the group whose decision it replays, and every other group that reported
   * the file has its own decision replayed with the same exceptions, so each group's rule follows.
   */
  private async followRedecision(r: Redecision, record: DecisionRecord): Promise<void> {
    await this.reconcileCertificates();
    const files = await this.store.filesOf(record.sha256);
    if (files.length === 0) return;
    const now = this.now();
    for (const file of files) {
      let standing: Standing | null = record;
      if (file.decisionId !== r.decisionId) {
        standing = await this.decisions.decideAgain(
          { sha256: file.sha256, decisionId: file.decisionId, why: `santa: ${r.why}` },
          `${REDECIDE_PREFIX}${record.id}:${file.group}`,
        );
        if (!standing) continue;
      }
      await this.store.noteFiles(
        [
          {
            group: file.group,
            machineId: "",
            sha256: file.sha256,
            decisionId: standing.id,
            decision: standing.decision,
            executions: 0,
          },
        ],
        now,
      );
      await this.store.applyRules(
        [santaRuleFor(file.group, standing, this.config.blockMessage)],
        now,
      );
    }
  }

  // ---- certificates --------------------------------------------------------------------------

  private certificates = "";
  private reconciling: Promise<void> = Promise.resolve();

  /**
   * Signer exceptions as CERTIFICATE rules: an approved one allows every binary its certificate
   * signs, those no machine reported yet too; a rejected one blocks them. Santa names a certificate
   * by the SHA-256 of the leaf, so a thumbprint of another length is not sent. An exception scoped
   * to a group's context reaches that group; one scoped by other context fields reaches none (a
   * Santa rule cannot say who runs the file). Made again when the exceptions in force change, at
   * the next preflight or re-decision: an exception that expired or was revoked is removed.
   */
  reconcileCertificates(): Promise<void> {
    const run = this.reconciling.then(() => this.reconcileNow());
    this.reconciling = run.catch(() => {});
    return run;
  }

  private async reconcileNow(): Promise<void> {
    const now = this.clock();
    const wanted = new Map<string, RuleChange>();
    for (const e of this.exceptions()) {
      if (!("signer" in e.scope)) continue;
      const thumbprint = e.scope.signer.toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(thumbprint)) continue;
      if (e.expires !== null && new Date(e.expires).getTime() <= now) continue;
      const context = e.context ?? {};
      const keys = Object.keys(context);
      if (keys.some((k) => k !== "group")) continue;
      const groups = context.group === undefined ? [...this.groups.keys()] : [context.group];
      for (const group of groups) {
        if (!this.groups.has(group)) continue;
        const key = `${group}\n${thumbprint}`;
        // a rejection wins over an approval of the same certificate, as deciding finds them
        if (wanted.get(key)?.policy === "BLOCKLIST") continue;
        wanted.set(key, {
          group,
          ruleType: "CERTIFICATE",
          identifier: thumbprint,
          policy: e.status === "approved" ? "ALLOWLIST" : "BLOCKLIST",
          customMsg: e.status === "approved" ? "" : e.justification.slice(0, 500),
          decisionId: null,
        });
      }
    }
    const fingerprint = JSON.stringify([...wanted.entries()].sort());
    if (fingerprint === this.certificates) return;
    const changes: RuleChange[] = [...wanted.values()];
    for (const group of this.groups.keys())
      for (const policy of ["ALLOWLIST", "BLOCKLIST"])
        for (const identifier of await this.store.identifiers(group, "CERTIFICATE", policy))
          if (!wanted.has(`${group}\n${identifier}`))
            changes.push({
              group,
              ruleType: "CERTIFICATE",
              identifier,
              policy: "REMOVE",
              customMsg: "",
              decisionId: null,
            });
    await this.store.applyRules(changes, new Date(now).toISOString());
    this.certificates = fingerprint;
  }

  // ---- the fleet -------------------------------------------------------------------------------

  /** Machines as the API shows them: each with its group's rule head and what it has not confirmed. */
  async listMachines(query: {
    group?: string;
    after?: string;
    limit: number;
  }): Promise<MachineView[]> {
    const rows = await this.store.machines(query);
    const heads = new Map<string, number>();
    for (const g of new Set(rows.map((r) => r.group))) heads.set(g, await this.store.ruleHead(g));
    return rows.map((r) => machineView(r, heads.get(r.group) ?? 0));
  }

  async getMachine(id: string): Promise<MachineView & { rules: RuleCount[] }> {
    const row = await this.store.machine(id);
    if (!row) throw new NotFoundError(`no Santa machine \`${id.slice(0, 128)}\` is registered`);
    const head = await this.store.ruleHead(row.group);
    return { ...machineView(row, head), rules: await this.store.ruleCounts(row.group) };
  }
}

type RuleCount = { ruleType: string; policy: string; rules: number };

/** A machine as the API shows it. */
export interface MachineView extends Omit<MachineRow, "syncTarget" | "syncType"> {
  /** the sync in progress (since a preflight without its postflight), or null */
  syncing: string | null;
  /** the group's rule changes this machine has not confirmed */
  rulesBehind: number;
}

function machineView(row: MachineRow, head: number): MachineView {
  const { syncTarget: _target, syncType, ...rest } = row;
  return { ...rest, syncing: syncType, rulesBehind: Math.max(0, head - row.rulesAcked) };
}

/** The same execution reported again has the same key: the agent's retries are not new events. */
function eventKey(e: AgentEvent): string {
  return sha256Hex(
    JSON.stringify([
      e.fileSha256,
      e.executionTime,
      e.pid,
      e.ppid,
      e.executingUser,
      e.filePath,
      e.fileName,
      e.decision,
    ]),
  ).slice(0, 32);
}

/** A canonical result from what the agent said of a file no analysis covers. */
function agentFacts(event: AgentEvent): AnalysisResult {
  const result: AnalysisResult = { sha256: event.fileSha256, origin: AGENT_FACTS };
  if (event.fileName !== "") result.fileName = event.fileName;
  const leaf = event.signingChain[0];
  const status = signatureStatus(event);
  if (status !== undefined) {
    result.signature = { status };
    const signer = leaf?.org || leaf?.cn;
    if (signer) result.signature.signer = signer;
    if (event.signingChain[1]?.cn) result.signature.issuer = event.signingChain[1].cn;
    if (leaf?.sha256) result.signature.thumbprint = leaf.sha256;
  }
  return result;
}

function signatureStatus(
  event: AgentEvent,
): NonNullable<AnalysisResult["signature"]>["status"] | undefined {
  switch (event.signingStatus) {
    case "SIGNING_STATUS_UNSIGNED":
      return "unsigned";
    case "SIGNING_STATUS_INVALID":
      return "invalid";
    case "SIGNING_STATUS_ADHOC":
      return "self_signed";
    case "SIGNING_STATUS_DEVELOPMENT":
    case "SIGNING_STATUS_PRODUCTION":
      return "valid";
    default:
      return event.signingChain.length > 0 ? "valid" : undefined;
  }
}
