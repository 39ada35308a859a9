/**
 * The simulated platform's state and rules, without HTTP: keys and quotas, uploads, analyses and
 * their ordering, and the clock. The routes in app.ts only translate requests to these calls.
 */
import type {
  CompleteAnswer,
  FilesPage,
  FilesQuery,
  PlatformFile,
  PutAnswer,
  UploadRequest,
} from "@clearance/platform";
import { mulberry32 } from "@clearance/testdata";
import { invalidRequest, PlatformError } from "./errors.js";
import { FaultInjector } from "./faults.js";
import type { ResolvedKey, ResolvedOptions, Scope } from "./options.js";
import { RateLimiter } from "./rate-limit.js";
import {
  derivedDigests,
  type FileDigests,
  type FileFacts,
  firstSeenAgeMs,
  mixSeed,
  seededSha256,
  simulatedFile,
} from "./results.js";
import { VirusTotalQuotas } from "./virustotal.js";
import { WebhookDispatcher } from "./webhooks.js";

interface FileRecord {
  sha256: string;
  fileName?: string;
  contentType?: string;
  size?: number;
  firstSeenMs: number;
  uploadedAtMs: number;
  /** of the latest completed analysis; 0 before the first one */
  version: number;
  analyzedAtMs: number;
  pending: { version: number; readyAtMs: number } | null;
  /** the real MD5 and SHA-1 of uploaded bytes, stand-ins for seeded files */
  digests: FileDigests;
}

interface Upload {
  id: string;
  token: string;
  key: string;
  sha256: string;
  fileName: string;
  contentType: string;
  expiresAtMs: number;
}

export interface UploadTicket {
  uploadId: string;
  /** the path and query of the upload URL; the routes put the base URL in front */
  path: string;
  expiresAt: string;
}

/** A seeded file for `seed` and `POST /_sim/files`. */
export interface SeedFile {
  sha256: string;
  fileName?: string;
  contentType?: string;
  size?: number;
}

/** Where a page ends, and the filters it was asked with (a cursor carries them). */
interface CursorState {
  t: number;
  s: string;
  since: number | null;
  until: number | null;
  sha256: string | null;
}

/** The one bucket of requests without a valid key. */
export const ANONYMOUS = "(anonymous)";
const SHA256 = /^[0-9a-f]{64}$/;
const UPLOADS_SWEEP_AT = 10_000;

const iso = (ms: number) => new Date(ms).toISOString();

/** Orders completed analyses: `analyzed_at`, then `sha256`. */
function compare(a: { t: number; s: string }, b: { t: number; s: string }): number {
  return a.t - b.t || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0);
}

export class SimulatorState {
  readonly now: () => number;
  readonly rate: RateLimiter;
  readonly faults: FaultInjector;
  readonly webhooks: WebhookDispatcher;
  /** the VirusTotal mode's quotas; null when the mode is off */
  readonly virustotal: VirusTotalQuotas | null;

  #keys = new Map<string, ResolvedKey>();
  #usage = new Map<string, { month: string; used: number }>();
  #files = new Map<string, FileRecord>();
  /** the SHA-256 of each file by its MD5 and SHA-1, for the VirusTotal mode */
  #byDigest = new Map<string, string>();
  /** completed analyses in list order; new ones are always stamped after the last (see #stamp) */
  #completed: FileRecord[] = [];
  #pending = new Set<FileRecord>();
  #uploads = new Map<string, Upload>();
  #timers = new Set<NodeJS.Timeout>();
  #lastStampMs = Number.NEGATIVE_INFINITY;
  #ids: () => number;
  #seeded = 0;

  constructor(readonly options: ResolvedOptions) {
    this.now = options.now;
    this.rate = new RateLimiter(options.rateLimit.limit, options.rateLimit.windowMs);
    this.faults = new FaultInjector(options.faults, options.seed);
    this.virustotal = options.virustotal === null ? null : new VirusTotalQuotas(options.virustotal);
    this.#ids = mulberry32(mixSeed("ids", options.seed));
    this.webhooks = new WebhookDispatcher(options.webhooks, options.webhookRetry, this.now, () =>
      this.#newId("dlv_", 24),
    );
    this.#init();
  }

  #init(): void {
    this.#keys = new Map(this.options.keys.map((k) => [k.key, k]));
    for (const sha256 of this.options.virustotal?.queued ?? [])
      this.#indexDigests(sha256.toLowerCase(), derivedDigests(sha256.toLowerCase()));
    const n = this.options.seedFiles;
    if (n > 0) {
      // Seeded analyses predate the start, one second apart, so later ones sort after them.
      const start = this.now();
      this.seed(
        Array.from({ length: n }, () => ({
          sha256: seededSha256(this.options.seed, this.#seeded++),
        })),
        (i) => start - (n - i) * 1000,
        false,
      );
    }
  }

  #newId(prefix: string, length: number): string {
    let s = prefix;
    for (let i = 0; i < length; i++) s += "0123456789abcdef"[Math.floor(this.#ids() * 16)];
    return s;
  }

  /**
   * A new `analyzed_at`: the clock, but always after the previous one, so an analysis completed
   * while a client pages through `GET /v1/files` sorts after its cursor and is never skipped.
   */
  #stamp(): number {
    this.#lastStampMs = Math.max(this.now(), this.#lastStampMs + 1);
    return this.#lastStampMs;
  }

  // -------------------------------------------------------------------------------------------
  // Keys, scopes, quotas

  /** The key a Bearer token names, or null (missing, unknown or revoked). */
  keyFor(authorization: string | undefined): ResolvedKey | null {
    const match = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match === null ? null : (this.#keys.get(match[1]!) ?? null);
  }

  authorize(key: ResolvedKey | null, scope: Scope): ResolvedKey {
    if (key === null)
      throw new PlatformError(
        "invalid_api_key",
        "a valid API key is required: send `Authorization: Bearer <key>`",
      );
    if (!key.scopes.includes(scope))
      throw new PlatformError("insufficient_scope", `this key lacks the \`${scope}\` scope`, {
        requiredScope: scope,
      });
    return key;
  }

  /** Revokes a key; false when there is no such key. */
  revoke(key: string): boolean {
    return this.#keys.delete(key);
  }

  #useQuota(key: ResolvedKey): void {
    const now = new Date(this.now());
    const month = now.toISOString().slice(0, 7);
    let usage = this.#usage.get(key.key);
    if (usage === undefined || usage.month !== month) {
      usage = { month, used: 0 };
      this.#usage.set(key.key, usage);
    }
    if (usage.used >= key.quota) {
      const resetsAt = iso(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
      throw new PlatformError(
        "quota_exhausted",
        `this key's monthly quota of ${key.quota} analyses is used up until ${resetsAt}`,
        { quota: key.quota, resetsAt },
      );
    }
    usage.used++;
  }

  // -------------------------------------------------------------------------------------------
  // Uploads

  createUpload(key: ResolvedKey, body: UploadRequest): UploadTicket {
    const nowMs = this.now();
    if (this.#uploads.size >= UPLOADS_SWEEP_AT)
      for (const [id, u] of this.#uploads)
        if (u.expiresAtMs + this.options.uploadUrlTtlMs < nowMs) this.#uploads.delete(id);
    const upload: Upload = {
      id: this.#newId("up_", 24),
      token: this.#newId("", 32),
      key: key.key,
      sha256: body.sha256.toLowerCase(),
      fileName: body.fileName,
      contentType: body.contentType,
      expiresAtMs: nowMs + this.options.uploadUrlTtlMs,
    };
    this.#uploads.set(upload.id, upload);
    return {
      uploadId: upload.id,
      path: `/uploads/${upload.id}?token=${upload.token}`,
      expiresAt: iso(upload.expiresAtMs),
    };
  }

  /** The key that asked for an upload URL (its requests count against that key's rate). */
  uploadOwner(uploadId: string): string | null {
    return this.#uploads.get(uploadId)?.key ?? null;
  }

  /** Checks an upload URL before its bytes are read: 404 unknown or bad token, 410 expired. */
  openUpload(uploadId: string, token: string | undefined): Upload {
    const upload = this.#uploads.get(uploadId);
    if (upload === undefined || token !== upload.token)
      throw new PlatformError("not_found", "no such upload (or a wrong `token`)");
    if (this.now() > upload.expiresAtMs)
      throw new PlatformError(
        "upload_url_expired",
        `the upload URL expired at ${iso(upload.expiresAtMs)}: ask for a new one with \`POST /v1/upload\``,
      );
    return upload;
  }

  #indexDigests(sha256: string, digests: FileDigests): void {
    this.#byDigest.set(digests.md5, sha256);
    this.#byDigest.set(digests.sha1, sha256);
  }

  /**
   * The SHA-256 of the file VirusTotal would answer for an MD5, SHA-1 or SHA-256 (lower case), or
   * undefined when the simulator knows no file by it.
   */
  sha256ByHash(hash: string): string | undefined {
    return hash.length === 64 ? hash : this.#byDigest.get(hash);
  }

  /**
   * Records the bytes of an upload once they hashed to the declared SHA-256; their MD5 and SHA-1
   * replace a seeded file's stand-ins.
   */
  finishUpload(
    upload: Upload,
    actual: string,
    size: number,
    digests: FileDigests = derivedDigests(actual),
  ): PutAnswer {
    if (actual !== upload.sha256)
      throw new PlatformError(
        "sha256_mismatch",
        "the uploaded bytes do not hash to the declared SHA-256",
        { expected: upload.sha256, actual },
      );
    const nowMs = this.now();
    const record = this.#files.get(upload.sha256);
    const facts = { fileName: upload.fileName, contentType: upload.contentType, size };
    if (record === undefined) {
      this.#files.set(upload.sha256, {
        sha256: upload.sha256,
        ...facts,
        firstSeenMs: nowMs - firstSeenAgeMs(upload.sha256, this.options.seed),
        uploadedAtMs: nowMs,
        version: 0,
        analyzedAtMs: 0,
        pending: null,
        digests,
      });
    } else {
      // The latest upload's name and type win; the result of a running analysis is unaffected.
      Object.assign(record, facts, { uploadedAtMs: nowMs });
      this.#byDigest.delete(record.digests.md5);
      this.#byDigest.delete(record.digests.sha1);
      record.digests = digests;
    }
    this.#indexDigests(upload.sha256, digests);
    return { sha256: upload.sha256, size };
  }

  // -------------------------------------------------------------------------------------------
  // Analyses

  /**
   * Starts an analysis (or a re-analysis). Completing a file whose analysis is still running
   * answers the same again without using quota, so a client may retry it safely.
   */
  complete(key: ResolvedKey, sha256: string): CompleteAnswer {
    const delay = this.options.analysisDelayMs;
    const answer: CompleteAnswer = {
      sha256,
      status: "pending",
      estimatedSeconds: Math.ceil(delay / 1000),
    };
    const record = this.#files.get(sha256);
    if (record === undefined)
      throw new PlatformError(
        "upload_missing",
        "the platform has no bytes for this SHA-256: `PUT` them to an upload URL first",
      );
    if (record.pending !== null) return answer;
    this.#useQuota(key);
    record.pending = { version: record.version + 1, readyAtMs: this.now() + delay };
    this.#pending.add(record);
    if (delay === 0) this.#finish(record);
    else this.#schedule(delay, 0);
    return answer;
  }

  /** Wakes up when an analysis should be done (with the real clock; an injected one is polled). */
  #schedule(ms: number, retries: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.settle();
      // Timers may fire a little before the wall clock agrees; look again shortly.
      const early = [...this.#pending].some((r) => r.pending!.readyAtMs - this.now() < 1000);
      if (early && retries < 3) this.#schedule(50, retries + 1);
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Completes the analyses whose time has come; every request calls it first. */
  settle(): void {
    if (this.#pending.size === 0) return;
    const nowMs = this.now();
    const due = [...this.#pending].filter((r) => r.pending!.readyAtMs <= nowMs);
    this.#finishAll(due);
  }

  /** Completes every running analysis now; returns their SHA-256s. */
  advance(): string[] {
    const all = [...this.#pending];
    this.#finishAll(all);
    return all.map((r) => r.sha256);
  }

  #finishAll(records: FileRecord[]): void {
    records.sort(
      (a, b) => a.pending!.readyAtMs - b.pending!.readyAtMs || (a.sha256 < b.sha256 ? -1 : 1),
    );
    for (const r of records) this.#finish(r);
  }

  #finish(record: FileRecord, analyzedAtMs = this.#stamp(), notify = true): void {
    const version = record.pending?.version ?? record.version + 1;
    if (record.version > 0) this.#unlist(record);
    record.version = version;
    record.analyzedAtMs = analyzedAtMs;
    record.pending = null;
    this.#pending.delete(record);
    this.#completed.push(record);
    if (notify && this.webhooks.targets.length > 0) this.webhooks.deliver(this.#object(record));
  }

  #unlist(record: FileRecord): void {
    const i = this.#indexAfter({ t: record.analyzedAtMs, s: record.sha256 }) - 1;
    if (this.#completed[i] === record) this.#completed.splice(i, 1);
  }

  /** The index of the first completed analysis after a position. */
  #indexAfter(position: { t: number; s: string }): number {
    let lo = 0;
    let hi = this.#completed.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.#completed[mid]!;
      if (compare({ t: r.analyzedAtMs, s: r.sha256 }, position) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Adds completed analyses without uploads (the platform already has the files), re-analysing
   * known ones. `at(i)` back-dates them (only at start, before any client could page past them).
   */
  seed(files: readonly SeedFile[], at?: (i: number) => number, notify = false): PlatformFile[] {
    return files.map((f, i) => {
      const sha256 = f.sha256.toLowerCase();
      const analyzedAtMs = at === undefined ? this.#stamp() : at(i);
      if (at !== undefined) this.#lastStampMs = Math.max(this.#lastStampMs, analyzedAtMs);
      let record = this.#files.get(sha256);
      const uploadedAtMs = analyzedAtMs - this.options.analysisDelayMs;
      if (record === undefined) {
        record = {
          sha256,
          firstSeenMs: uploadedAtMs - firstSeenAgeMs(sha256, this.options.seed),
          uploadedAtMs,
          version: 0,
          analyzedAtMs: 0,
          pending: null,
          digests: derivedDigests(sha256),
        };
        this.#files.set(sha256, record);
        this.#indexDigests(sha256, record.digests);
      }
      if (f.fileName !== undefined) record.fileName = f.fileName;
      if (f.contentType !== undefined) record.contentType = f.contentType;
      if (f.size !== undefined) record.size = f.size;
      this.#finish(record, analyzedAtMs, notify);
      return this.#object(record);
    });
  }

  /** `count` new generated files, continuing the seeded sequence. */
  seedCount(count: number, notify = false): PlatformFile[] {
    const files = Array.from({ length: count }, () => ({
      sha256: seededSha256(this.options.seed, this.#seeded++),
    }));
    return this.seed(files, undefined, notify);
  }

  #object(record: FileRecord): PlatformFile {
    return simulatedFile(record.sha256, this.options.seed, {
      fileName: record.fileName,
      contentType: record.contentType,
      size: record.size,
      firstSeenMs: record.firstSeenMs,
      uploadedAtMs: record.uploadedAtMs,
      analyzedAtMs: record.analyzedAtMs,
      version: record.version,
    });
  }

  /**
   * `GET /v1/files/{sha256}`: the latest completed analysis, or a pending object while one runs.
   * A file uploaded but never completed has no analysis yet: 404, like a file never uploaded.
   */
  file(sha256: string): PlatformFile | Record<string, unknown> {
    const record = this.#files.get(sha256);
    if (record === undefined || (record.version === 0 && record.pending === null))
      throw new PlatformError("not_found", `no analysis of file ${sha256}`);
    if (record.pending === null) return this.#object(record);
    const pending: Record<string, unknown> = {
      sha256,
      status: "pending",
      version: record.pending.version,
    };
    if (record.fileName !== undefined) pending.file_name = record.fileName;
    if (record.size !== undefined) pending.file_size = record.size;
    if (record.contentType !== undefined) pending.content_type = record.contentType;
    pending.uploaded_at = iso(record.uploadedAtMs);
    return pending;
  }

  /**
   * What the VirusTotal mode knows of a file: nothing, an analysis still queued (a file pending
   * here with no completed analysis, or one listed in `virustotal.queued`), or the facts of its
   * latest completed analysis.
   */
  analysisOf(
    sha256: string,
  ):
    | { state: "unknown" }
    | { state: "queued"; facts: FileFacts }
    | { state: "done"; facts: FileFacts } {
    const record = this.#files.get(sha256);
    const listed = this.options.virustotal?.queued.includes(sha256) === true;
    if (record === undefined || (record.version === 0 && record.pending === null))
      return listed ? { state: "queued", facts: {} } : { state: "unknown" };
    const facts: FileFacts = {
      fileName: record.fileName,
      contentType: record.contentType,
      size: record.size,
      firstSeenMs: record.firstSeenMs,
      uploadedAtMs: record.uploadedAtMs,
      analyzedAtMs: record.analyzedAtMs,
      version: record.version,
      digests: record.digests,
    };
    if (listed || record.version === 0) return { state: "queued", facts };
    return { state: "done", facts };
  }

  /** `GET /v1/files`: a page of completed analyses in list order. */
  list(query: FilesQuery): FilesPage {
    const limit = query.limit ?? 100;
    let filters = {
      since: query.since === undefined ? null : Date.parse(query.since),
      until: query.until === undefined ? null : Date.parse(query.until),
      sha256: query.sha256?.toLowerCase() ?? null,
    };
    let start = 0;
    if (query.cursor !== undefined) {
      const cursor = decodeCursor(query.cursor);
      // The cursor carries the filters; repeating them is fine, changing them is a mistake.
      for (const name of ["since", "until", "sha256"] as const) {
        if (query[name] !== undefined && filters[name] !== cursor[name])
          throw invalidRequest([
            { field: name, message: "differs from the query the `cursor` was made for" },
          ]);
      }
      filters = { since: cursor.since, until: cursor.until, sha256: cursor.sha256 };
      start = this.#indexAfter({ t: cursor.t, s: cursor.s });
    }
    if (filters.since !== null)
      start = Math.max(start, this.#indexAfter({ t: filters.since, s: "" }));
    const data: FileRecord[] = [];
    let more = false;
    for (let i = start; i < this.#completed.length; i++) {
      const r = this.#completed[i]!;
      if (filters.until !== null && r.analyzedAtMs >= filters.until) break;
      if (filters.sha256 !== null && r.sha256 !== filters.sha256) continue;
      if (data.length === limit) {
        more = true;
        break;
      }
      data.push(r);
    }
    const last = data.at(-1);
    return {
      data: data.map((r) => this.#object(r)),
      nextCursor:
        more && last !== undefined
          ? encodeCursor({ t: last.analyzedAtMs, s: last.sha256, ...filters })
          : null,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Back to the state at start: files, uploads, quotas, keys, rate windows, faults, deliveries. */
  async reset(): Promise<void> {
    this.#stopTimers();
    await this.webhooks.reset();
    this.#usage.clear();
    this.#files.clear();
    this.#byDigest.clear();
    this.#completed = [];
    this.#pending.clear();
    this.#uploads.clear();
    this.#lastStampMs = Number.NEGATIVE_INFINITY;
    this.#seeded = 0;
    this.#ids = mulberry32(mixSeed("ids", this.options.seed));
    this.rate.reset();
    this.virustotal?.reset();
    this.faults.reset();
    this.#init();
  }

  async close(): Promise<void> {
    this.#stopTimers();
    await this.webhooks.reset();
  }

  #stopTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify(state)).toString("base64url");
}

function decodeCursor(text: string): CursorState {
  const bad = () => invalidRequest([{ field: "cursor", message: "is not a cursor of this API" }]);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  const c = value as Partial<CursorState> | null;
  const timeOrNull = (v: unknown) => v === null || (typeof v === "number" && Number.isFinite(v));
  if (
    c === null ||
    typeof c !== "object" ||
    typeof c.t !== "number" ||
    !Number.isFinite(c.t) ||
    typeof c.s !== "string" ||
    !SHA256.test(c.s) ||
    !timeOrNull(c.since) ||
    !timeOrNull(c.until) ||
    !(c.sha256 === null || (typeof c.sha256 === "string" && SHA256.test(c.sha256)))
  )
    throw bad();
  return c as CursorState;
}
