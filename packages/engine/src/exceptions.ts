import { isValidated } from "@clearance/result";

/**
 * Exceptions and review cases as rules see them: the `exception` and `case` a decision is given
 * (docs/language.md, "Exceptions and review cases"). Their fields and types are declared once, in
 * BUILTINS of @clearance/dsl; these are the shapes a TypeScript caller passes to `decide`.
 */

/** The one exception that applies to a decision: `exception.*` in the rules. */
export interface ExceptionInput {
  id: string;
  status: "approved" | "rejected";
  kind?: "file" | "signer" | "vendor";
  /** RFC 3339 or epoch milliseconds */
  expires?: string | number | null;
  /** RFC 3339 or epoch milliseconds */
  created?: string | number;
  approvers?: string[];
  justification?: string;
  /** the review case that yielded it; absent for an exception an admin created directly */
  case?: string | null;
}

/** The review case of the decided file, when one exists: `case.*` in the rules. */
export interface CaseInput {
  id: string;
  status: "open" | "expired";
  /** RFC 3339 or epoch milliseconds */
  opened?: string | number;
  /** how many requests for the file the case has collected */
  requests?: number;
}

/** What an exception covers: one file, a signer certificate, or a vendor's product. */
export type ExceptionScope =
  | { sha256: string }
  /** the signing certificate's thumbprint: applies to files whose signature is valid */
  | { signer: string }
  | { vendor: string; product: string };

/** An exception as it is stored: made by a resolved review case, or by an admin. */
export interface ExceptionRecord {
  id: string;
  status: "approved" | "rejected";
  scope: ExceptionScope;
  /** applies only to requests whose context has each of these fields with this value */
  context?: Readonly<Record<string, string>>;
  /** RFC 3339 or epoch milliseconds */
  created: string | number;
  /** RFC 3339 or epoch milliseconds; null (never expires) only with `allowNoExpiry` */
  expires: string | number | null;
  approvers: readonly string[];
  justification: string;
  /** the review case that yielded it; null for an exception an admin created directly */
  case: string | null;
}

export interface ExceptionSetOptions {
  /** accept exceptions that never expire (`expires: null`); by default each must expire */
  allowNoExpiry?: boolean;
  /**
   * keep at most this many problems in InvalidExceptionsError (the rest are only counted, in
   * `omitted`): a hostile list of millions of bad records must not fill memory with problems
   */
  maxProblems?: number;
}

/** Exceptions that failed validation, each problem a JSON Pointer into the list given. */
export class InvalidExceptionsError extends Error {
  override name = "InvalidExceptionsError";
  constructor(
    readonly problems: { pointer: string; message: string }[],
    /** problems found beyond `maxProblems`, counted but not kept */
    readonly omitted = 0,
  ) {
    const more = problems.length - Math.min(problems.length, 10) + omitted;
    super(
      `invalid exceptions: ${problems
        .slice(0, 10)
        .map((p) => `${p.pointer}: ${p.message}`)
        .join("; ")}${more > 0 ? `; and ${more} more` : ""}`,
    );
  }
}

type Kind = "file" | "signer" | "vendor";

/** A validated record, with what `find` compares precomputed. */
interface Entry {
  record: ExceptionRecord;
  kind: Kind;
  created: number;
  expires: number | undefined;
  context: [string, string][];
}

/**
 * A set of exceptions, indexed by file hash, signer thumbprint and vendor and product, so that
 * finding the one that applies to a decision costs a few map lookups however many there are.
 */
export class ExceptionSet {
  readonly size: number;
  private readonly byFile = new Map<string, Entry[]>();
  /**
   * One bit per value of a hash's first 5 hex digits, set for the files with an exception: most
   * files have none, and a 128 KiB bit set answers that without touching the (much larger) map,
   * whose misses would push the rules' own data out of the processor's caches.
   */
  private readonly fileFilter = new Int32Array(FILTER_WORDS);
  /** the same for signer thumbprints (by their first 5 hex digits once normalised) */
  private readonly signerFilter = new Int32Array(FILTER_WORDS);
  private readonly bySigner = new Map<string, Entry[]>();
  /** by vendor, then product: two lookups of the result's own strings, no key built per decision */
  private readonly byVendor = new Map<string, Map<string, Entry[]>>();

  /** Validates every record first: throws InvalidExceptionsError listing every problem. */
  constructor(records: readonly unknown[], options: ExceptionSetOptions = {}) {
    const problems: { pointer: string; message: string }[] = [];
    const maxProblems = options.maxProblems ?? Number.POSITIVE_INFINITY;
    let omitted = 0;
    const entries: Entry[] = [];
    const ids = new Set<string>();
    records.forEach((raw, i) => {
      const entry = validate(raw, `/${i}`, options, problems);
      if (entry !== undefined) {
        if (ids.has(entry.record.id))
          problems.push({ pointer: `/${i}/id`, message: `duplicate id \`${entry.record.id}\`` });
        else {
          ids.add(entry.record.id);
          entries.push(entry);
        }
      }
      if (problems.length > maxProblems) {
        omitted += problems.length - maxProblems;
        problems.length = maxProblems;
      }
    });
    if (problems.length > 0 || omitted > 0) throw new InvalidExceptionsError(problems, omitted);
    const add = (map: Map<string, Entry[]>, key: string, e: Entry) => {
      const bucket = map.get(key);
      if (bucket) bucket.push(e);
      else map.set(key, [e]);
    };
    for (const e of entries) {
      const scope = e.record.scope;
      if ("sha256" in scope) {
        const key = scope.sha256.toLowerCase();
        add(this.byFile, key, e);
        setBit(this.fileFilter, filterBit(key));
      } else if ("signer" in scope) {
        const key = thumbprintKey(scope.signer);
        add(this.bySigner, key, e);
        setBit(this.signerFilter, filterBit(key));
      } else {
        let products = this.byVendor.get(scope.vendor);
        if (!products) this.byVendor.set(scope.vendor, (products = new Map()));
        add(products, scope.product, e);
      }
    }
    // Each bucket in the order `find` prefers: rejected first, then the newest, then by id.
    for (const map of [this.byFile, this.bySigner, ...this.byVendor.values()])
      for (const bucket of map.values()) bucket.sort(preference);
    this.size = entries.length;
  }

  /**
   * The one exception that applies to `result` asked with `context` at `now` (epoch ms), as
   * `decide` takes it, or undefined: not expired at `now`, its context scope matching; the most
   * specific kind first (file, then signer, then vendor); at one specificity a rejected one before
   * an approved one, then the newest. A signer exception applies only to a valid signature.
   */
  find(
    result: Readonly<Record<string, unknown>>,
    context: unknown,
    now: number,
  ): ExceptionInput | undefined {
    // Most files have no exception: a miss costs one lookup a kind, and nothing for an empty kind.
    const sha256 = result.sha256;
    if (this.byFile.size > 0 && typeof sha256 === "string" && mayHold(this.fileFilter, sha256)) {
      const bucket = this.byFile.get(isValidated(result) ? sha256 : sha256.toLowerCase());
      const hit = bucket && applicable(bucket, context, now);
      if (hit) return toInput(hit);
    }
    if (this.bySigner.size > 0) {
      const signature = result.signature as Signed | undefined;
      if (
        signature?.status === "valid" &&
        typeof signature.thumbprint === "string" &&
        mayHold(this.signerFilter, signature.thumbprint)
      ) {
        const bucket = this.bySigner.get(thumbprintKey(signature.thumbprint));
        const hit = bucket && applicable(bucket, context, now);
        if (hit) return toInput(hit);
      }
    }
    if (this.byVendor.size > 0) {
      const vendor = result.vendor as Made | undefined;
      if (typeof vendor?.name === "string" && typeof vendor.product === "string") {
        const bucket = this.byVendor.get(vendor.name)?.get(vendor.product);
        const hit = bucket && applicable(bucket, context, now);
        if (hit) return toInput(hit);
      }
    }
    return undefined;
  }
}

/** The first exception of a bucket (in `find`'s order) not expired at `now` whose context matches. */
function applicable(bucket: readonly Entry[], context: unknown, now: number): Entry | undefined {
  for (const e of bucket) {
    if (e.expires !== undefined && now >= e.expires) continue;
    if (contextMatches(e.context, context)) return e;
  }
  return undefined;
}

const FILTER_BITS = 20;
const FILTER_WORDS = (1 << FILTER_BITS) >>> 5;

function setBit(filter: Int32Array, bit: number): void {
  if (bit >= 0) filter[bit >>> 5]! |= 1 << (bit & 31);
}

/**
 * False when no key of the filter starts with the same 5 hex digits as `text` (either case);
 * true when one may, or when `text` does not start with 5 hex digits (the map then decides).
 */
function mayHold(filter: Int32Array, text: string): boolean {
  const bit = filterBit(text);
  return bit < 0 || (filter[bit >>> 5]! & (1 << (bit & 31))) !== 0;
}

/** The first 5 hex digits of a hash as a number (either case); -1 when they are not hex digits. */
function filterBit(sha256: string): number {
  let v = 0;
  for (let i = 0; i < 5; i++) {
    const c = sha256.charCodeAt(i) | 0x20; // lower case for letters, digits unchanged
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

function preference(a: Entry, b: Entry): number {
  if (a.record.status !== b.record.status) return a.record.status === "rejected" ? -1 : 1;
  if (a.created !== b.created) return b.created - a.created;
  return a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0;
}

function contextMatches(scope: readonly [string, string][], context: unknown): boolean {
  if (scope.length === 0) return true;
  if (context == null || typeof context !== "object") return false;
  for (const [name, value] of scope) {
    if (!Object.hasOwn(context, name) || (context as Record<string, unknown>)[name] !== value)
      return false;
  }
  return true;
}

function toInput(e: Entry): ExceptionInput {
  const r = e.record;
  const out: ExceptionInput = {
    id: r.id,
    status: r.status,
    kind: e.kind,
    created: new Date(e.created).toISOString(),
    approvers: [...r.approvers],
    justification: r.justification,
  };
  if (e.expires !== undefined) out.expires = new Date(e.expires).toISOString();
  if (r.case !== null) out.case = r.case;
  return out;
}

/**
 * Thumbprints compare without case, `:` or spaces (`ab:cd` is `ABCD`). Keys are upper case, as
 * Windows and VirusTotal write thumbprints, so a result's thumbprint is usually its own key.
 */
function thumbprintKey(thumbprint: string): string {
  return NOT_A_KEY.test(thumbprint) ? thumbprint.replace(/[:\s]/g, "").toUpperCase() : thumbprint;
}
const NOT_A_KEY = /[:\sa-z]/;

interface Signed {
  status?: unknown;
  thumbprint?: unknown;
}
interface Made {
  name?: unknown;
  product?: unknown;
}

function toTime(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  return undefined;
}

const SHA256 = /^[0-9a-fA-F]{64}$/;
const KEYS = new Set([
  "id",
  "status",
  "scope",
  "context",
  "created",
  "expires",
  "approvers",
  "justification",
  "case",
]);

/** One record checked field by field; its problems appended to `problems`. */
function validate(
  raw: unknown,
  at: string,
  options: ExceptionSetOptions,
  problems: { pointer: string; message: string }[],
): Entry | undefined {
  const before = problems.length;
  const problem = (field: string, message: string) =>
    problems.push({ pointer: field ? `${at}/${field}` : at, message });
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    problem("", "an exception is an object");
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!KEYS.has(key)) problem(key, `unknown field \`${key}\``);
  const nonEmpty = (v: unknown) => typeof v === "string" && v.length > 0;
  if (!nonEmpty(r.id)) problem("id", "should be a non-empty string");
  if (r.status !== "approved" && r.status !== "rejected")
    problem("status", "should be `approved` or `rejected`");
  let kind: Kind | undefined;
  const scope = r.scope as Record<string, unknown> | null | undefined;
  if (scope === null || typeof scope !== "object" || Array.isArray(scope)) {
    problem("scope", "should be `{sha256}`, `{signer}` or `{vendor, product}`");
  } else {
    const keys = Object.keys(scope).sort().join(",");
    if (keys === "sha256") {
      kind = "file";
      if (typeof scope.sha256 !== "string" || !SHA256.test(scope.sha256))
        problem("scope/sha256", "should be 64 hex digits");
    } else if (keys === "signer") {
      kind = "signer";
      if (!nonEmpty(scope.signer))
        problem("scope/signer", "should be a certificate thumbprint (a non-empty string)");
    } else if (keys === "product,vendor") {
      kind = "vendor";
      if (!nonEmpty(scope.vendor)) problem("scope/vendor", "should be a non-empty string");
      if (!nonEmpty(scope.product)) problem("scope/product", "should be a non-empty string");
    } else problem("scope", "should be `{sha256}`, `{signer}` or `{vendor, product}`");
  }
  const context: [string, string][] = [];
  if (r.context !== undefined) {
    if (r.context === null || typeof r.context !== "object" || Array.isArray(r.context))
      problem("context", "should be an object of strings");
    else
      for (const [name, value] of Object.entries(r.context)) {
        if (typeof value === "string") context.push([name, value]);
        else problem(`context/${name}`, "should be a string");
      }
  }
  const created = toTime(r.created);
  if (created === undefined) problem("created", "should be an RFC 3339 time or epoch milliseconds");
  let expires: number | undefined;
  if (r.expires === null) {
    if (options.allowNoExpiry !== true) problem("expires", "is required: exceptions must expire");
  } else {
    expires = toTime(r.expires);
    if (expires === undefined)
      problem("expires", "should be an RFC 3339 time or epoch milliseconds");
  }
  if (!Array.isArray(r.approvers) || !r.approvers.every((a) => typeof a === "string"))
    problem("approvers", "should be a list of names");
  if (typeof r.justification !== "string") problem("justification", "should be a string");
  if (r.case !== null && !nonEmpty(r.case))
    problem("case", "should be a review case id, or null for an exception made directly");
  if (problems.length > before || kind === undefined || created === undefined) return undefined;
  // a copy: a caller changing its object later must not reorder the buckets
  const record = { ...r, approvers: [...(r.approvers as string[])] } as unknown as ExceptionRecord;
  return { record, kind, created, expires, context };
}
