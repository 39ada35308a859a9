/**
 * The platform's file object (`docs/platform-api.md`) -> canonical analysis result.
 *
 * Every platform field name read is in `PF` below (the types in wire.ts, the enum values in
 * enums.ts): a renamed field is a change to those and this file. The conversion never throws on a
 * JSON value. Unlike the VirusTotal adapter, which reads what it can from a third-party format,
 * this one is strict: the platform documents its types, so a value of the wrong type is a problem
 * (with a JSON Pointer into the platform object) rather than silently dropped, and an analysis that
 * is not `completed` is a problem. Unknown enum values are kept or mapped conservatively with a
 * warning. `fromPlatform` does not validate its output, but every successful output is a valid
 * canonical result; `platformToCanonical` validates it, with the input limits.
 */
import {
  type AdapterOutcome,
  type AnalysisResult,
  type Detections,
  describe,
  type EngineResult,
  escapePointerToken,
  type InputLimits,
  isRfc3339DateTime,
  type Problem,
  resolveInputLimits,
  type ScoreComponent,
  type Signature,
  show,
  type ValidationOutcome,
  type Vendor,
  type Verdict,
  validateResult,
} from "@clearance/result";
import {
  APPROVAL_STATUSES,
  ENGINE_CATEGORIES,
  lookup,
  SIGNING_STATUSES,
  VERDICTS,
} from "./enums.js";
import { PLATFORM_STATUSES, type PlatformFile } from "./wire.js";

/** Platform field names. */
const PF = {
  sha256: "sha256",
  status: "status",
  version: "version",
  fileName: "file_name",
  fileSize: "file_size",
  contentType: "content_type",
  category: "category",
  trustScore: "trust_score",
  verdict: "verdict",
  scoreBreakdown: "score_breakdown",
  component: "component",
  label: "label",
  weight: "weight",
  value: "value",
  description: "description",
  signing: "signing",
  signingStatus: "status",
  signer: "signer",
  issuer: "issuer",
  thumbprint: "thumbprint",
  signedAt: "signed_at",
  vendor: "vendor",
  vendorName: "name",
  vendorVerified: "verified",
  vendorProduct: "product",
  vendorVersion: "version",
  detectionResults: "detection_results",
  engineCategory: "category",
  engineResult: "result",
  engineVersion: "engine_version",
  approval: "approval",
  approvalStatus: "status",
  approvalRule: "rule",
  tags: "tags",
  firstSeen: "first_seen",
  uploadedAt: "uploaded_at",
  analyzedAt: "analyzed_at",
} as const;

/**
 * Top-level fields of a platform file object, in the documented order (anything else is ignored
 * with a warning). Typed against `PlatformFile`: a name here that the wire type lacks fails the build.
 */
export const PLATFORM_FIELDS: readonly (keyof PlatformFile)[] = Object.freeze([
  PF.sha256,
  PF.status,
  PF.version,
  PF.fileName,
  PF.fileSize,
  PF.contentType,
  PF.category,
  PF.trustScore,
  PF.verdict,
  PF.scoreBreakdown,
  PF.signing,
  PF.vendor,
  PF.detectionResults,
  PF.approval,
  PF.tags,
  PF.firstSeen,
  PF.uploadedAt,
  PF.analyzedAt,
]);

const DETECTION_KEYS: readonly (keyof Detections)[] = [
  "malicious",
  "suspicious",
  "undetected",
  "harmless",
  "failed",
  "unsupported",
];

const HEX64 = /^[0-9a-fA-F]{64}$/;

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Own property only: never picks up `constructor`, `toString` or other inherited names. */
function own(object: Obj, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** A JSON Pointer token (RFC 6901). */
function token(key: string | number): string {
  return escapePointerToken(String(key));
}

/** Reads typed values at JSON Pointers, collecting a problem for each value of the wrong type. */
class Reader {
  readonly problems: Problem[] = [];
  readonly warnings: string[] = [];

  problem(pointer: string, message: string): void {
    this.problems.push({ pointer, message });
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  wrong(pointer: string, expected: string, value: unknown): undefined {
    this.problem(pointer, `must be ${expected}, got ${describe(value)}`);
    return undefined;
  }

  /** The value at `key`; null (the platform's "no value") is absent. */
  get(object: Obj | undefined, key: string): unknown {
    if (object === undefined) return undefined;
    const value = own(object, key);
    return value === null ? undefined : value;
  }

  string(object: Obj | undefined, key: string, at: string): string | undefined {
    const value = this.get(object, key);
    if (value === undefined || typeof value === "string") return value;
    return this.wrong(`${at}/${token(key)}`, "a string", value);
  }

  /** A finite number, optionally within [min, max]. */
  number(
    object: Obj | undefined,
    key: string,
    at: string,
    range?: [number, number],
  ): number | undefined {
    const value = this.get(object, key);
    if (value === undefined) return undefined;
    const ok =
      typeof value === "number" &&
      Number.isFinite(value) &&
      (range === undefined || (value >= range[0] && value <= range[1]));
    if (ok) return value;
    const expected = range ? `a number from ${range[0]} to ${range[1]}` : "a finite number";
    return this.wrong(`${at}/${token(key)}`, expected, value);
  }

  integer(object: Obj | undefined, key: string, at: string, min: number): number | undefined {
    const value = this.get(object, key);
    if (value === undefined) return undefined;
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= min) return value;
    return this.wrong(`${at}/${token(key)}`, `an integer of at least ${min}`, value);
  }

  boolean(object: Obj | undefined, key: string, at: string): boolean | undefined {
    const value = this.get(object, key);
    if (value === undefined || typeof value === "boolean") return value;
    return this.wrong(`${at}/${token(key)}`, "a boolean", value);
  }

  object(object: Obj | undefined, key: string, at: string): Obj | undefined {
    const value = this.get(object, key);
    if (value === undefined || isObject(value)) return value;
    return this.wrong(`${at}/${token(key)}`, "an object", value);
  }

  array(object: Obj | undefined, key: string, at: string): unknown[] | undefined {
    const value = this.get(object, key);
    if (value === undefined || Array.isArray(value)) return value;
    return this.wrong(`${at}/${token(key)}`, "an array", value);
  }

  /** An RFC 3339 date-time string, kept as the platform wrote it. */
  dateTime(object: Obj | undefined, key: string, at: string): string | undefined {
    const value = this.get(object, key);
    if (value === undefined) return undefined;
    if (typeof value === "string" && isRfc3339DateTime(value)) return value;
    return this.wrong(`${at}/${token(key)}`, "an RFC 3339 date-time", value);
  }
}

function verdictOf(score: number): Verdict {
  return score >= 80 ? "clean" : score >= 50 ? "caution" : "high_risk";
}

function mapVerdict(root: Obj, trustScore: number | undefined, r: Reader): Verdict | undefined {
  const raw = r.string(root, PF.verdict, "");
  if (raw === undefined) return undefined;
  const verdict = lookup<Verdict>(VERDICTS, raw);
  if (verdict === undefined) {
    if (trustScore === undefined) {
      r.warn(`ignored unknown verdict ${show(raw)} (and there is no trust score to derive one)`);
      return undefined;
    }
    const derived = verdictOf(trustScore);
    r.warn(`unknown verdict ${show(raw)}: used \`${derived}\`, from the trust score ${trustScore}`);
    return derived;
  }
  if (trustScore !== undefined && verdictOf(trustScore) !== verdict) {
    r.warn(`verdict ${show(raw)} does not follow the trust score ${trustScore}: kept ${show(raw)}`);
  }
  return verdict;
}

function mapScoreBreakdown(list: unknown[], r: Reader): ScoreComponent[] {
  const components: ScoreComponent[] = [];
  list.forEach((item, index) => {
    const at = `/${PF.scoreBreakdown}/${index}`;
    if (!isObject(item)) {
      r.wrong(at, "an object", item);
      return;
    }
    const component = r.string(item, PF.component, at);
    if (component === undefined) {
      if (r.get(item, PF.component) === undefined) {
        r.problem(`${at}/${PF.component}`, `required property \`${PF.component}\` is missing`);
      }
      return;
    }
    const out: ScoreComponent = { component };
    const label = r.string(item, PF.label, at);
    if (label !== undefined) out.label = label;
    const weight = r.number(item, PF.weight, at);
    if (weight !== undefined) out.weight = weight;
    const value = r.number(item, PF.value, at);
    if (value !== undefined) out.value = value;
    const description = r.string(item, PF.description, at);
    if (description !== undefined) out.description = description;
    components.push(out);
  });
  return components;
}

function mapSignature(signing: Obj, r: Reader): Signature | undefined {
  const at = `/${PF.signing}`;
  const raw = r.string(signing, PF.signingStatus, at);
  if (raw === undefined) {
    if (r.get(signing, PF.signingStatus) === undefined) {
      r.problem(
        `${at}/${PF.signingStatus}`,
        `required property \`${PF.signingStatus}\` is missing`,
      );
    }
    return undefined;
  }
  let status = lookup<Signature["status"]>(SIGNING_STATUSES, raw);
  if (status === undefined) {
    r.warn(
      `unknown signing status ${show(raw)} at \`${at}/${PF.signingStatus}\`: read as \`invalid\``,
    );
    status = "invalid";
  }
  const signature: Signature = { status };
  const signer = r.string(signing, PF.signer, at);
  if (signer !== undefined) signature.signer = signer;
  const issuer = r.string(signing, PF.issuer, at);
  if (issuer !== undefined) signature.issuer = issuer;
  const thumbprint = r.string(signing, PF.thumbprint, at);
  if (thumbprint !== undefined) signature.thumbprint = thumbprint;
  const signedAt = r.dateTime(signing, PF.signedAt, at);
  if (signedAt !== undefined) signature.signedAt = signedAt;
  return signature;
}

function mapVendor(vendor: Obj, r: Reader): Vendor {
  const at = `/${PF.vendor}`;
  const out: Vendor = {};
  const name = r.string(vendor, PF.vendorName, at);
  if (name !== undefined) out.name = name;
  const verified = r.boolean(vendor, PF.vendorVerified, at);
  if (verified !== undefined) out.verified = verified;
  const product = r.string(vendor, PF.vendorProduct, at);
  if (product !== undefined) out.product = product;
  const version = r.string(vendor, PF.vendorVersion, at);
  if (version !== undefined) out.version = version;
  return out;
}

function mapEngines(results: Obj, r: Reader): { engines: EngineResult[]; detections: Detections } {
  const engines: EngineResult[] = [];
  const detections: Detections = {};
  for (const key of DETECTION_KEYS) detections[key] = 0;
  for (const name of Object.keys(results)) {
    const at = `/${PF.detectionResults}/${token(name)}`;
    const entry = results[name];
    if (!isObject(entry)) {
      r.wrong(at, "an object", entry);
      continue;
    }
    const engine: EngineResult = { engine: name };
    const raw = r.string(entry, PF.engineCategory, at);
    if (raw !== undefined) {
      const category = lookup<keyof Detections>(ENGINE_CATEGORIES, raw);
      if (category === undefined) {
        r.warn(`kept unknown engine category ${show(raw)} at \`${at}/${PF.engineCategory}\``);
        engine.category = raw;
      } else {
        engine.category = category;
        detections[category] = (detections[category] ?? 0) + 1;
      }
    }
    const result = own(entry, PF.engineResult);
    if (result === null || typeof result === "string") engine.result = result;
    else if (result !== undefined) r.wrong(`${at}/${PF.engineResult}`, "a string or null", result);
    const version = r.string(entry, PF.engineVersion, at);
    if (version !== undefined) engine.version = version;
    engines.push(engine);
  }
  return { engines, detections };
}

function mapApproval(approval: Obj, r: Reader): Obj {
  const at = `/${PF.approval}`;
  const out: Obj = {};
  const raw = r.string(approval, PF.approvalStatus, at);
  if (raw !== undefined) {
    const status = lookup<string>(APPROVAL_STATUSES, raw);
    if (status === undefined)
      r.warn(`kept unknown approval status ${show(raw)} at \`${at}/status\``);
    out.status = status ?? raw;
  }
  const rule = r.string(approval, PF.approvalRule, at);
  if (rule !== undefined) out.rule = rule;
  return out;
}

/**
 * Maps a platform file object to a canonical result. Fails (with every problem, each with a JSON
 * Pointer into the platform object) when the input is not an object, has no valid `sha256`, is not
 * a `completed` analysis, or holds a value of the wrong type. Warnings report unknown enum values
 * (an unknown signing status reads as `invalid`), unknown fields and an inconsistent verdict.
 */
export function fromPlatform(input: unknown): AdapterOutcome {
  if (!isObject(input)) {
    return {
      ok: false,
      problems: [
        { pointer: "", message: `expected a platform file object, got ${describe(input)}` },
      ],
    };
  }
  const r = new Reader();

  const sha = own(input, PF.sha256);
  if (typeof sha !== "string" || !HEX64.test(sha)) {
    r.problem(
      `/${PF.sha256}`,
      sha === undefined
        ? `required property \`${PF.sha256}\` is missing`
        : `must be 64 hexadecimal digits, got ${describe(sha)}`,
    );
  }

  const status = own(input, PF.status);
  if (status === undefined) {
    r.problem(
      `/${PF.status}`,
      `required property \`${PF.status}\` is missing: only a completed analysis can be decided`,
    );
  } else if (typeof status !== "string") {
    r.wrong(`/${PF.status}`, "a string", status);
  } else if (status !== "completed") {
    const known = (PLATFORM_STATUSES as readonly string[]).includes(status)
      ? ""
      : " (an unknown status)";
    r.problem(`/${PF.status}`, `the analysis is ${show(status)}${known}, not completed`);
  }

  const result: AnalysisResult = { sha256: typeof sha === "string" ? sha.toLowerCase() : "" };

  const fileName = r.string(input, PF.fileName, "");
  if (fileName !== undefined) result.fileName = fileName;
  const fileSize = r.integer(input, PF.fileSize, "", 0);
  if (fileSize !== undefined) result.fileSize = fileSize;
  const contentType = r.string(input, PF.contentType, "");
  if (contentType !== undefined) result.contentType = contentType;
  const category = r.string(input, PF.category, "");
  if (category !== undefined) result.category = category.toLowerCase();

  const trustScore = r.number(input, PF.trustScore, "", [0, 100]);
  if (trustScore !== undefined) result.trustScore = trustScore;
  const verdict = mapVerdict(input, trustScore, r);
  if (verdict !== undefined) result.verdict = verdict;

  const breakdown = r.array(input, PF.scoreBreakdown, "");
  if (breakdown !== undefined) result.scoreBreakdown = mapScoreBreakdown(breakdown, r);

  const detectionResults = r.object(input, PF.detectionResults, "");
  if (detectionResults !== undefined) {
    const { engines, detections } = mapEngines(detectionResults, r);
    result.detections = detections;
    result.engines = engines;
  }

  const vendor = r.object(input, PF.vendor, "");
  if (vendor !== undefined) result.vendor = mapVendor(vendor, r);

  const signing = r.object(input, PF.signing, "");
  if (signing !== undefined) {
    const signature = mapSignature(signing, r);
    if (signature !== undefined) result.signature = signature;
  }

  const firstSeen = r.dateTime(input, PF.firstSeen, "");
  if (firstSeen !== undefined) result.firstSeen = firstSeen;
  const analyzedAt = r.dateTime(input, PF.analyzedAt, "");
  if (analyzedAt !== undefined) result.analyzedAt = analyzedAt;

  const tags = r.array(input, PF.tags, "");
  if (tags !== undefined) {
    result.tags = tags.filter((tag, index): tag is string => {
      if (typeof tag !== "string") r.wrong(`/${PF.tags}/${index}`, "a string", tag);
      return typeof tag === "string";
    });
  }

  // Extra fields: kept for audit and display, never used by Clearance's own decision.
  const version = r.integer(input, PF.version, "", 1);
  if (version !== undefined) result.platformVersion = version;
  const uploadedAt = r.dateTime(input, PF.uploadedAt, "");
  if (uploadedAt !== undefined) result.uploadedAt = uploadedAt;
  const approval = r.object(input, PF.approval, "");
  if (approval !== undefined) result.platformApproval = mapApproval(approval, r);

  for (const key of Object.keys(input)) {
    if (!(PLATFORM_FIELDS as readonly string[]).includes(key))
      r.warn(`ignored unknown field ${show(key)}`);
  }

  if (r.problems.length > 0) return { ok: false, problems: r.problems };
  return { ok: true, result, warnings: r.warnings };
}

/** `platformToCanonical`'s answer: a validated canonical result, or every problem. */
export type PlatformOutcome = ValidationOutcome & { format: "platform"; warnings?: string[] };

/**
 * Reads a platform file object as a validated canonical result: `fromPlatform`, then validation
 * with the input limits (`limits` over the defaults). The problems of either step come back, with
 * JSON Pointers; the conversion's warnings are passed on with a result. This is what
 * `toCanonical(input, { format: "platform" })` of @clearance/engine answers. Throws (TypeError)
 * only for invalid `limits`.
 */
export function platformToCanonical(
  input: unknown,
  limits?: Partial<InputLimits>,
): PlatformOutcome {
  const resolved = resolveInputLimits(limits);
  const adapted = fromPlatform(input);
  if (!adapted.ok) return { ok: false, problems: adapted.problems, format: "platform" };
  return {
    ...validateResult(adapted.result, resolved),
    format: "platform",
    warnings: adapted.warnings,
  };
}
