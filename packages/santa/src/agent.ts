// `SantaAgent`: a protocol-level simulator of santasyncservice, Santa's sync client
// (github.com/northpolesec/santa, Source/santasyncservice, Apache-2.0), for tests and load. It
// syncs as Santa does: preflight, event upload in batches, rule download page by page, postflight;
// the same retries, the same leniency reading answers, the same order of applying what it learnt.
// It keeps the state that sync changes (rules, client mode, queued events) and decides executions
// against its rules with Santa's precedence. It runs no endpoint security, bundles or CEL.
//
// Agents share a connection pool: undici's global dispatcher unless one is given, so a thousand
// agents in one process cost a thousand small objects, not a thousand pools.

import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { deflate, gzip } from "node:zlib";
import { type Dispatcher, request } from "undici";
import { decodeBody } from "./body.js";
import {
  type AgentDecision,
  type AgentEvent,
  CLIENT_MODES,
  type ClientMode,
  eventUploadRequestJson,
  normalizeRuleIdentifier,
  type PreflightRequest,
  type ProtocolProblem,
  postflightRequestJson,
  preflightRequestJson,
  type Read,
  RULE_PRECEDENCE,
  RULE_TYPES,
  type RuleType,
  readEventUploadResponse,
  readPreflightResponse,
  readRuleDownloadResponse,
  ruleDownloadRequestJson,
  type SantaRule,
  type SyncType,
} from "./protocol.js";

const deflateAsync = promisify(deflate);
const gzipAsync = promisify(gzip);

/** How request bodies are compressed (Santa's `SyncClientContentEncoding`). */
export const AGENT_ENCODINGS = ["deflate", "gzip", "none"] as const;
export type AgentEncoding = (typeof AGENT_ENCODINGS)[number];

/** The sync's stages, as they are named in their URLs. */
export type SyncStage = "preflight" | "eventupload" | "ruledownload" | "postflight";

export interface SantaAgentOptions {
  /**
   * The sync server's base URL (Santa's `SyncBaseURL`), e.g. `https://sync.example.com/santa/v1/`.
   * As in Santa, a `/` is appended when missing, and plain http is only for loopback hosts.
   */
  baseUrl: string | URL;
  /** The machine's ID, the last segment of every stage's URL. */
  machineId: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Extra headers on every request (Santa's `SyncExtraHeaders`). Santa ignores the ones it sets
   * itself or that belong to the connection; here they are a TypeError instead.
   */
  headers?: Readonly<Record<string, string>>;
  /** Request body compression; `deflate` (zlib), as Santa's default. */
  encoding?: AgentEncoding;
  serialNumber?: string;
  hostname?: string;
  osVersion?: string;
  osBuild?: string;
  modelIdentifier?: string;
  santaVersion?: string;
  primaryUser?: string;
  primaryUserGroups?: readonly string[];
  /** The mode the agent starts in; MONITOR unless given. */
  clientMode?: ClientMode;
  /** How long one HTTP request may take, in milliseconds; 30 s as in Santa. */
  timeoutMs?: number;
  /** Attempts per request; 5 as in Santa. */
  maxAttempts?: number;
  /**
   * The wait before attempt `attempt` (2, 3, ...), in milliseconds. Santa waits 2^attempt seconds
   * (4 s, 8 s, 16 s, 32 s); tests and load runs usually want less.
   */
  retryDelayMs?: (attempt: number) => number;
  /** Upload queued events during a clean sync too (Santa's `SyncEnableCleanSyncEventUpload`). */
  enableCleanSyncEventUpload?: boolean;
  /** The undici dispatcher to send with, shared by as many agents as wanted; undici's global one by default. */
  dispatcher?: Dispatcher;
}

/** The options once validated; frozen. */
export interface ResolvedAgentOptions {
  readonly baseUrl: string;
  readonly machineId: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly encoding: AgentEncoding;
  readonly serialNumber: string;
  readonly hostname: string;
  readonly osVersion: string;
  readonly osBuild: string;
  readonly modelIdentifier: string;
  readonly santaVersion: string;
  readonly primaryUser: string;
  readonly primaryUserGroups: readonly string[];
  readonly clientMode: ClientMode;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly retryDelayMs: (attempt: number) => number;
  readonly enableCleanSyncEventUpload: boolean;
  readonly dispatcher: Dispatcher | undefined;
}

/** An execution, by the identifiers Santa's rules name. */
export interface Execution {
  sha256: string;
  cdhash?: string;
  /** `TEAMID:signing.id`, or `platform:signing.id` for Apple's own binaries */
  signingId?: string;
  teamId?: string;
  /** the leaf certificate's SHA-256 */
  certSha256?: string;
}

export interface SyncReport {
  /** the agent's mode after the sync */
  clientMode: ClientMode;
  syncType: SyncType;
  eventsUploaded: number;
  /** queued events a clean sync let go without uploading them, as Santa does */
  eventsDiscarded: number;
  eventBatches: number;
  /** bundle hashes the server asked for binaries of (this agent has none to send) */
  bundleBinaryRequests: string[];
  /** rules in the download, dropped ones included (postflight's `rules_received`) */
  rulesReceived: number;
  /** rules the agent kept (postflight's `rules_processed`) */
  rulesProcessed: number;
  /** rules the agent dropped, with where and why */
  rulesDropped: ProtocolProblem[];
  /** rule download pages */
  pages: number;
  /** HTTP requests sent, retries included */
  requests: number;
  /** why postflight went unanswered; Santa finishes the sync all the same */
  postflightError: SantaSyncError | null;
}

/**
 * A sync stage that did not get a usable answer: the last HTTP status (0 without an answer), the
 * server's problem document when it sent one (`code`, `detail`), or what made a 200's body
 * unreadable.
 */
export class SantaSyncError extends Error {
  override name = "SantaSyncError";
  readonly stage: SyncStage;
  readonly status: number;
  readonly attempts: number;
  /** the problem document's `code` */
  readonly code: string | undefined;
  /** the problem document's `detail` */
  readonly detail: string | undefined;
  /** the problem document as sent, when the answer was JSON */
  readonly problem: Readonly<Record<string, unknown>> | undefined;
  /** why a 200's body could not be read as the stage's answer */
  readonly answerProblems: readonly ProtocolProblem[];

  constructor(
    message: string,
    facts: {
      stage: SyncStage;
      status: number;
      attempts: number;
      problem?: Record<string, unknown> | undefined;
      answerProblems?: ProtocolProblem[];
      cause?: unknown;
    },
  ) {
    super(message, facts.cause === undefined ? undefined : { cause: facts.cause });
    this.stage = facts.stage;
    this.status = facts.status;
    this.attempts = facts.attempts;
    this.problem = facts.problem;
    this.code = typeof facts.problem?.code === "string" ? facts.problem.code : undefined;
    this.detail = typeof facts.problem?.detail === "string" ? facts.problem.detail : undefined;
    this.answerProblems = facts.answerProblems ?? [];
  }
}

/** Santa's `kDefaultEventBatchSize`, when the server sets no batch size. */
const DEFAULT_BATCH_SIZE = 50;
/** A ceiling on an answer's inflated size: rule pages are big, but not this big. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** Headers Santa does not take from `SyncExtraHeaders` (SNTSyncManager.mm). */
const RESTRICTED_HEADERS = new Set([
  "content-encoding",
  "content-length",
  "content-type",
  "connection",
  "host",
  "proxy-authenticate",
  "proxy-authorization",
  "www-authenticate",
]);
/** Santa's JSON-hijacking prefixes, which it strips from answers (`stripXssi`). */
const XSSI_PREFIXES = [")]}'\n", "])}"];
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
/** Rule types from the most specific, in which order rules are matched against an execution. */
const BY_PRECEDENCE: readonly RuleType[] = [...RULE_TYPES].sort(
  (a, b) => RULE_PRECEDENCE[a] - RULE_PRECEDENCE[b],
);
const OPTION_KEYS = new Set([
  "baseUrl",
  "machineId",
  "token",
  "headers",
  "encoding",
  "serialNumber",
  "hostname",
  "osVersion",
  "osBuild",
  "modelIdentifier",
  "santaVersion",
  "primaryUser",
  "primaryUserGroups",
  "clientMode",
  "timeoutMs",
  "maxAttempts",
  "retryDelayMs",
  "enableCleanSyncEventUpload",
  "dispatcher",
]);
const HOST_FACTS = [
  "serialNumber",
  "hostname",
  "osVersion",
  "osBuild",
  "modelIdentifier",
  "santaVersion",
  "primaryUser",
] as const;

/** Validates the options and freezes them. Throws a TypeError naming the offending option. */
export function resolveAgentOptions(options: SantaAgentOptions): ResolvedAgentOptions {
  if (options === null || typeof options !== "object")
    throw new TypeError("SantaAgent options must be an object");
  const unknown = Object.keys(options).filter((key) => !OPTION_KEYS.has(key));
  if (unknown.length > 0)
    throw new TypeError(
      `SantaAgent has no option ${unknown.map((key) => `\`${key}\``).join(", ")}`,
    );
  const o = options as SantaAgentOptions & Record<string, unknown>;
  const fail = (name: string, must: string): never => {
    throw new TypeError(`SantaAgent option \`${name}\` must be ${must}`);
  };
  const singleLine = (value: unknown) => typeof value === "string" && !/[\r\n\u0000]/.test(value);

  let base: URL;
  try {
    if (typeof o.baseUrl !== "string" && !(o.baseUrl instanceof URL)) throw new Error();
    base = new URL(String(o.baseUrl));
  } catch {
    return fail("baseUrl", `an http or https URL, got \`${String(o.baseUrl)}\``);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:")
    fail("baseUrl", `an http or https URL, got \`${base.href}\``);
  if (base.protocol === "http:" && !LOOPBACK_HOSTS.has(base.hostname))
    fail("baseUrl", `https, or http to a loopback host as Santa allows, got \`${base.href}\``);
  if (base.search !== "" || base.hash !== "")
    fail("baseUrl", "a URL without a query or a fragment");
  if (!base.pathname.endsWith("/")) base.pathname += "/";

  if (typeof o.machineId !== "string" || o.machineId === "" || !singleLine(o.machineId))
    fail("machineId", "a non-empty single-line string");

  const headers: Record<string, string> = {};
  if (o.headers !== undefined) {
    if (o.headers === null || typeof o.headers !== "object")
      fail("headers", "an object of header names to values");
    for (const [name, value] of Object.entries(o.headers)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
        fail("headers", `an object of header names to values, got the name \`${name}\``);
      if (!singleLine(value)) fail(`headers.${name}`, "a single-line string");
      if (RESTRICTED_HEADERS.has(name.toLowerCase()))
        fail("headers", `free of \`${name}\`, which Santa does not let SyncExtraHeaders set`);
      headers[name.toLowerCase()] = value;
    }
  }
  if (o.token !== undefined) {
    if (typeof o.token !== "string" || o.token === "" || /[\s\u0000-\u001f\u007f]/.test(o.token))
      fail("token", "a non-empty string without spaces or control characters");
    if ("authorization" in headers)
      fail("token", "left out when `headers` has an Authorization header");
    headers.authorization = `Bearer ${o.token}`;
  }

  const encoding = o.encoding ?? "deflate";
  if (!(AGENT_ENCODINGS as readonly unknown[]).includes(encoding))
    fail("encoding", "`deflate`, `gzip` or `none`");
  for (const name of HOST_FACTS)
    if (o[name] !== undefined && !singleLine(o[name])) fail(name, "a single-line string");
  const groups = o.primaryUserGroups ?? [];
  if (!Array.isArray(groups) || !groups.every(singleLine))
    fail("primaryUserGroups", "a list of single-line strings");
  const clientMode = o.clientMode ?? "MONITOR";
  if (!(CLIENT_MODES as readonly unknown[]).includes(clientMode))
    fail("clientMode", "`MONITOR`, `LOCKDOWN` or `STANDALONE`");
  const timeoutMs = o.timeoutMs ?? 30_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) fail("timeoutMs", "a positive integer");
  const maxAttempts = o.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) fail("maxAttempts", "a positive integer");
  const retryDelayMs = o.retryDelayMs ?? ((attempt: number) => 1000 * 2 ** attempt);
  if (typeof retryDelayMs !== "function") fail("retryDelayMs", "a function of the attempt number");
  const enableCleanSyncEventUpload = o.enableCleanSyncEventUpload ?? false;
  if (typeof enableCleanSyncEventUpload !== "boolean")
    fail("enableCleanSyncEventUpload", "true or false");
  if (
    o.dispatcher !== undefined &&
    (o.dispatcher === null ||
      typeof (o.dispatcher as { dispatch?: unknown }).dispatch !== "function")
  )
    fail("dispatcher", "an undici Dispatcher");

  return Object.freeze({
    baseUrl: base.href,
    machineId: o.machineId,
    headers: Object.freeze(headers),
    encoding,
    serialNumber: o.serialNumber ?? "",
    hostname: o.hostname ?? "",
    osVersion: o.osVersion ?? "",
    osBuild: o.osBuild ?? "",
    modelIdentifier: o.modelIdentifier ?? "",
    santaVersion: o.santaVersion ?? "",
    primaryUser: o.primaryUser ?? "",
    primaryUserGroups: Object.freeze([...groups]),
    clientMode,
    timeoutMs,
    maxAttempts,
    retryDelayMs,
    enableCleanSyncEventUpload,
    dispatcher: o.dispatcher,
  });
}

/** An event with every field at its zero value: what protobuf leaves out. */
function emptyEvent(): AgentEvent {
  return {
    fileSha256: "",
    filePath: "",
    fileName: "",
    executingUser: "",
    executionTime: 0,
    loggedInUsers: [],
    currentSessions: [],
    decision: "DECISION_UNKNOWN",
    fileBundleId: "",
    fileBundlePath: "",
    fileBundleExecutableRelPath: "",
    fileBundleName: "",
    fileBundleVersion: "",
    fileBundleVersionString: "",
    fileBundleHash: "",
    fileBundleHashMillis: 0,
    fileBundleBinaryCount: 0,
    pid: 0,
    ppid: 0,
    parentName: "",
    teamId: "",
    signingId: "",
    cdhash: "",
    signingChain: [],
    csFlags: 0,
    signingStatus: "SIGNING_STATUS_UNSPECIFIED",
    secureSigningTime: 0,
    signingTime: 0,
    staticRule: false,
  };
}
const EVENT_KEYS = new Set(Object.keys(emptyEvent()));
const EXECUTION_KEYS = new Set(["sha256", "cdhash", "signingId", "teamId", "certSha256"]);
const SYNC_OPTION_KEYS = new Set(["clean"]);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export class SantaAgent {
  readonly options: ResolvedAgentOptions;
  /** keyed by rule type and stored identifier, as Santa's rule table is */
  readonly #rules = new Map<string, SantaRule>();
  readonly #events: AgentEvent[] = [];
  #clientMode: ClientMode;
  #syncing = false;
  #requests = 0;
  /** Santa keeps an XSRF token it was given for later syncs; none until a 403 asks for one */
  #xsrf = { token: "", header: "x-xsrf-token" };

  constructor(options: SantaAgentOptions) {
    this.options = resolveAgentOptions(options);
    this.#clientMode = this.options.clientMode;
  }

  get clientMode(): ClientMode {
    return this.#clientMode;
  }

  /** Events queued for the next sync's upload. */
  get pendingEvents(): number {
    return this.#events.length;
  }

  /** The agent's rules, in the order they were added. */
  rules(): SantaRule[] {
    return [...this.#rules.values()].map((rule) => ({ ...rule }));
  }

  /**
   * Queues an execution event for upload. Fields not given are left at their zero values, but for
   * `executionTime` (now) and `decision` (what this agent's rules and mode decide).
   */
  recordExecution(event: Partial<AgentEvent> & { fileSha256: string }): AgentEvent {
    if (event === null || typeof event !== "object")
      throw new TypeError("recordExecution takes an event object");
    const unknown = Object.keys(event).filter((key) => !EVENT_KEYS.has(key));
    if (unknown.length > 0)
      throw new TypeError(`an event has no field ${unknown.map((key) => `\`${key}\``).join(", ")}`);
    if (typeof event.fileSha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(event.fileSha256))
      throw new TypeError("an event's `fileSha256` must be a SHA-256 (64 hex digits)");
    // a copy, so the caller's later changes to its lists do not reach the queued event
    const full: AgentEvent = structuredClone({ ...emptyEvent(), ...event });
    full.fileSha256 = event.fileSha256.toLowerCase();
    if (event.executionTime === undefined) full.executionTime = Date.now() / 1000;
    if (event.decision === undefined) {
      const execution: Execution = { sha256: full.fileSha256 };
      if (full.cdhash) execution.cdhash = full.cdhash;
      if (full.signingId) execution.signingId = full.signingId;
      if (full.teamId) execution.teamId = full.teamId;
      const leaf = full.signingChain[0]?.sha256;
      if (leaf) execution.certSha256 = leaf;
      full.decision = this.decide(execution);
    }
    this.#events.push(full);
    return structuredClone(full);
  }

  /**
   * What Santa decides about an execution with this agent's rules: the most specific matching
   * rule's decision (CDHASH, BINARY, SIGNINGID, CERTIFICATE, TEAMID), else the client mode's
   * (MONITOR allows; LOCKDOWN and STANDALONE block, STANDALONE letting the user approve).
   */
  decide(execution: Execution): AgentDecision {
    checkExecution(execution);
    const identifiers: Record<RuleType, string | undefined> = {
      CDHASH: execution.cdhash,
      BINARY: execution.sha256,
      SIGNINGID: execution.signingId,
      CERTIFICATE: execution.certSha256,
      TEAMID: execution.teamId,
    };
    for (const ruleType of BY_PRECEDENCE) {
      const identifier = identifiers[ruleType];
      if (!identifier) continue;
      const stored = normalizeRuleIdentifier(ruleType, identifier);
      const rule = stored === null ? undefined : this.#rules.get(ruleKey(ruleType, stored));
      if (rule === undefined) continue;
      return `${rule.policy === "ALLOWLIST" ? "ALLOW" : "BLOCK"}_${ruleType}` as AgentDecision;
    }
    return this.#clientMode === "MONITOR" ? "ALLOW_UNKNOWN" : "BLOCK_UNKNOWN";
  }

  /** Whether Santa would let the execution run with this agent's rules and mode. */
  wouldRun(execution: Execution): "allow" | "block" {
    return this.decide(execution).startsWith("ALLOW_") ? "allow" : "block";
  }

  /**
   * One sync, as santasyncservice runs it. Throws a SantaSyncError when preflight, an event
   * upload or a rule download page gets no usable answer; what was applied before stays (events
   * already uploaded leave the queue), rules and mode are untouched by a failed download.
   */
  async sync(options: { clean?: boolean } = {}): Promise<SyncReport> {
    if (options === null || typeof options !== "object")
      throw new TypeError("sync takes an options object");
    const unknown = Object.keys(options).filter((key) => !SYNC_OPTION_KEYS.has(key));
    if (unknown.length > 0)
      throw new TypeError(`sync has no option ${unknown.map((key) => `\`${key}\``).join(", ")}`);
    if (options.clean !== undefined && typeof options.clean !== "boolean")
      throw new TypeError("sync option `clean` must be true or false");
    // Santa runs one sync at a time; two at once here would interleave their rule updates
    if (this.#syncing) throw new Error("this agent is already syncing");
    this.#syncing = true;
    const requestsBefore = this.#requests;
    try {
      return await this.#sync(options.clean === true, requestsBefore);
    } finally {
      this.#syncing = false;
    }
  }

  async #sync(requestClean: boolean, requestsBefore: number): Promise<SyncReport> {
    const o = this.options;

    // preflight (SNTSyncPreflight.mm)
    const preflight = await this.#call(
      "preflight",
      preflightRequestJson(this.#preflightRequest(requestClean)),
      readPreflightResponse,
    );
    // the mode waits for postflight, so an agent never locks down before it has its rules
    const nextMode = preflight.clientMode;
    const syncType = preflight.syncType;
    const batchSize = preflight.batchSize > 0 ? preflight.batchSize : DEFAULT_BATCH_SIZE;

    // event upload (SNTSyncEventUpload.mm): the events queued when the sync began, in batches
    const upload = syncType === "NORMAL" || o.enableCleanSyncEventUpload;
    let remaining = this.#events.length;
    let eventsUploaded = 0;
    let eventsDiscarded = 0;
    let eventBatches = 0;
    const bundleBinaryRequests: string[] = [];
    while (remaining > 0) {
      const batch = this.#events.slice(0, Math.min(batchSize, remaining));
      if (upload) {
        const answer = await this.#call(
          "eventupload",
          eventUploadRequestJson({ events: batch, machineId: o.machineId }),
          readEventUploadResponse,
        );
        bundleBinaryRequests.push(...answer.eventUploadBundleBinaries);
        eventsUploaded += batch.length;
        eventBatches++;
      } else {
        // Santa lets a clean sync's events go unsent, and removes them all the same
        eventsDiscarded += batch.length;
      }
      this.#events.splice(0, batch.length);
      remaining -= batch.length;
    }

    // rule download (SNTSyncRuleDownload.mm): every page, then all of it applied at once
    const downloaded: SantaRule[] = [];
    const rulesDropped: ProtocolProblem[] = [];
    let pages = 0;
    let cursor = "";
    do {
      const page = await this.#call(
        "ruledownload",
        ruleDownloadRequestJson({ cursor, machineId: o.machineId }),
        readRuleDownloadResponse,
      );
      downloaded.push(...page.rules);
      rulesDropped.push(...page.dropped);
      cursor = page.cursor;
      pages++;
    } while (cursor !== "");
    // Santa leaves its rules as they are when a download brings none, even on a clean sync: an
    // empty rule set never reaches its database
    if (downloaded.length > 0) {
      if (syncType !== "NORMAL") this.#rules.clear();
      for (const rule of downloaded) {
        const key = ruleKey(rule.ruleType, rule.identifier);
        if (rule.policy === "REMOVE") this.#rules.delete(key);
        else {
          // a replaced rule takes the new one's place at the end, as a fresh row would
          this.#rules.delete(key);
          this.#rules.set(key, { ...rule });
        }
      }
    }

    // postflight (SNTSyncPostflight.mm): Santa applies the preflight's settings after it whether
    // or not the server answered it
    const rulesReceived = downloaded.length + rulesDropped.length;
    let postflightError: SantaSyncError | null = null;
    try {
      await this.#call(
        "postflight",
        postflightRequestJson({
          rulesReceived,
          rulesProcessed: downloaded.length,
          machineId: o.machineId,
          syncType,
          rulesHash: "",
        }),
        readPostflightResponse,
      );
    } catch (error) {
      if (!(error instanceof SantaSyncError)) throw error;
      postflightError = error;
    }
    if (nextMode !== null) this.#clientMode = nextMode;

    return {
      clientMode: this.#clientMode,
      syncType,
      eventsUploaded,
      eventsDiscarded,
      eventBatches,
      bundleBinaryRequests,
      rulesReceived,
      rulesProcessed: downloaded.length,
      rulesDropped,
      pages,
      requests: this.#requests - requestsBefore,
      postflightError,
    };
  }

  #preflightRequest(requestClean: boolean): PreflightRequest {
    const o = this.options;
    const count = (ruleType: RuleType) => {
      let n = 0;
      for (const rule of this.#rules.values()) if (rule.ruleType === ruleType) n++;
      return n;
    };
    return {
      serialNumber: o.serialNumber,
      hostname: o.hostname,
      osVersion: o.osVersion,
      osBuild: o.osBuild,
      modelIdentifier: o.modelIdentifier,
      santaVersion: o.santaVersion,
      primaryUser: o.primaryUser,
      primaryUserGroups: [...o.primaryUserGroups],
      pushNotificationToken: "",
      clientMode: this.#clientMode,
      requestCleanSync: requestClean,
      binaryRuleCount: count("BINARY"),
      certificateRuleCount: count("CERTIFICATE"),
      compilerRuleCount: 0,
      transitiveRuleCount: 0,
      teamidRuleCount: count("TEAMID"),
      signingidRuleCount: count("SIGNINGID"),
      cdhashRuleCount: count("CDHASH"),
      machineId: o.machineId,
      pushNotificationSync: false,
      sipStatus: 0,
      rulesHash: "",
    };
  }

  /**
   * POSTs a stage's message and reads its answer, retrying as Santa's `dataFromRequest`
   * (SNTSyncStage.mm) does: up to `maxAttempts` for anything but a 200, except a 4xx other than
   * 408 and 429, which no retry will change. A 403 first fetches an XSRF token, once per agent,
   * and retries with it when the server gives one. A 200 whose body cannot be read as the
   * stage's answer is not retried.
   */
  async #call<T>(
    stage: SyncStage,
    message: Record<string, unknown>,
    reader: (value: unknown) => Read<T>,
  ): Promise<T> {
    const o = this.options;
    const json = Buffer.from(JSON.stringify(message));
    const body =
      o.encoding === "deflate"
        ? await deflateAsync(json)
        : o.encoding === "gzip"
          ? await gzipAsync(json)
          : json;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (o.encoding !== "none") headers["content-encoding"] = o.encoding;

    let answer: Answer | undefined;
    let failure: unknown;
    let attempt = 0;
    while (attempt < o.maxAttempts) {
      attempt++;
      if (attempt >= 2) {
        const delay = o.retryDelayMs(attempt);
        if (delay > 0) await sleep(delay);
      }
      answer = undefined;
      failure = undefined;
      try {
        answer = await this.#send(stage, headers, body, o.timeoutMs);
      } catch (error) {
        failure = error;
        continue;
      }
      if (answer.status === 200) return readAnswer(stage, answer, attempt, reader);
      if (answer.status === 403 && (await this.#fetchXsrfToken())) continue;
      const { status } = answer;
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) break;
    }
    const times = `${attempt} attempt${attempt === 1 ? "" : "s"}`;
    if (answer === undefined)
      throw new SantaSyncError(
        `${stage} got no answer after ${times}: ${failure instanceof Error ? failure.message : String(failure)}`,
        { stage, status: 0, attempts: attempt, cause: failure },
      );
    const problem = problemOf(answer.body);
    const said = [problem?.code, problem?.detail ?? problem?.title].filter(
      (part): part is string => typeof part === "string",
    );
    throw new SantaSyncError(
      `${stage} was answered HTTP ${answer.status}${said.length > 0 ? ` (${said.join(": ")})` : ""} after ${times}`,
      { stage, status: answer.status, attempts: attempt, problem },
    );
  }

  /**
   * Santa's `fetchXSRFToken`: while it holds no token, a POST to `xsrf/<machine id>` whose 200
   * carries the token in X-XSRF-TOKEN (and, optionally, the header to send it in, in
   * X-XSRF-TOKEN-HEADER). True when the request that met a 403 is worth another attempt.
   */
  async #fetchXsrfToken(): Promise<boolean> {
    if (this.#xsrf.token !== "") return false;
    let answer: Answer;
    try {
      answer = await this.#send("xsrf", {}, undefined, 10_000);
    } catch {
      return false;
    }
    if (answer.status !== 200) return false;
    const token = answer.headers["x-xsrf-token"];
    const header = answer.headers["x-xsrf-token-header"];
    this.#xsrf = {
      token: typeof token === "string" ? token : "",
      header: typeof header === "string" && header !== "" ? header.toLowerCase() : "x-xsrf-token",
    };
    return true;
  }

  /** One HTTP exchange; an answer's body arrives whole and inflated, or the exchange fails. */
  async #send(
    path: SyncStage | "xsrf",
    headers: Record<string, string>,
    body: Buffer | undefined,
    timeoutMs: number,
  ): Promise<Answer> {
    const o = this.options;
    const url = new URL(`${path}/${encodeURIComponent(o.machineId)}`, o.baseUrl);
    const sent: Record<string, string> = {
      ...o.headers,
      ...headers,
      "user-agent": `santactl-sync/${o.santaVersion}`,
    };
    if (this.#xsrf.token !== "") sent[this.#xsrf.header] = this.#xsrf.token;
    this.#requests++;
    const response = await request(url, {
      method: "POST",
      headers: sent,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(timeoutMs),
      ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}),
    });
    const raw = Buffer.from(await response.body.arrayBuffer());
    const encoding = response.headers["content-encoding"];
    return {
      status: response.statusCode,
      headers: response.headers,
      // NSURLSession inflates answers; one that will not inflate is a failed exchange there too
      body: await decodeBody(
        raw,
        typeof encoding === "string" ? encoding : undefined,
        MAX_ANSWER_BYTES,
      ),
    };
  }
}

function ruleKey(ruleType: RuleType, identifier: string): string {
  return `${ruleType} ${identifier}`;
}

function checkExecution(execution: Execution): void {
  if (execution === null || typeof execution !== "object")
    throw new TypeError("an execution must be an object");
  const unknown = Object.keys(execution).filter((key) => !EXECUTION_KEYS.has(key));
  if (unknown.length > 0)
    throw new TypeError(
      `an execution has no field ${unknown.map((key) => `\`${key}\``).join(", ")}`,
    );
  for (const [key, value] of Object.entries(execution))
    if (value !== undefined && typeof value !== "string")
      throw new TypeError(`an execution's \`${key}\` must be a string`);
  if (typeof execution.sha256 !== "string") throw new TypeError("an execution needs its `sha256`");
}

/**
 * A 200's body read as the stage's answer. An empty body is the empty message, and Santa's XSSI
 * prefixes are stripped first, as Santa does.
 */
function readAnswer<T>(
  stage: SyncStage,
  answer: Answer,
  attempts: number,
  reader: (value: unknown) => Read<T>,
): T {
  let text = answer.body.toString("utf8");
  const prefix = XSSI_PREFIXES.find((p) => text.startsWith(p));
  if (prefix !== undefined) text = text.slice(prefix.length);
  let json: unknown = {};
  if (text.trim() !== "") {
    try {
      json = JSON.parse(text);
    } catch (error) {
      const problem = { pointer: "", message: `is not JSON: ${(error as Error).message}` };
      throw new SantaSyncError(`${stage}'s answer is not JSON`, {
        stage,
        status: 200,
        attempts,
        answerProblems: [problem],
      });
    }
  }
  const read = reader(json);
  if (read.ok) return read.value;
  const first = read.problems[0]!;
  const more = read.problems.length > 1 ? ` (and ${read.problems.length - 1} more)` : "";
  throw new SantaSyncError(
    `${stage}'s answer cannot be read: ${first.pointer || "/"} ${first.message}${more}`,
    { stage, status: 200, attempts, answerProblems: read.problems },
  );
}

/** Postflight's answer is an empty message: any JSON object will do. */
function readPostflightResponse(value: unknown): Read<Record<string, never>> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? { ok: true, value: {} }
    : { ok: false, problems: [{ pointer: "", message: "should be an object" }] };
}

function problemOf(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
