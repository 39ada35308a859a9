/**
 * Canonical analysis result -> the platform's file object, per the mapping table of
 * docs/platform-api.md ("The file object"): what the simulator serves. to-canonical.ts maps the
 * other way; both read the enum tables of enums.ts, so the two stay inverse on every value listed.
 */
import type { AnalysisResult, SignatureStatus, Verdict } from "@clearance/result";
import {
  APPROVAL_STATUSES,
  ENGINE_CATEGORIES,
  inverse,
  lookup,
  SIGNING_STATUSES,
  VERDICTS,
} from "./enums.js";
import type {
  PlatformApproval,
  PlatformApprovalStatus,
  PlatformEngineCategory,
  PlatformEngineResult,
  PlatformFile,
  PlatformSigning,
  PlatformSigningStatus,
  PlatformVerdict,
} from "./wire.js";

export interface ToPlatformOptions {
  /** default: the result's `platformVersion`, else 1 */
  version?: number;
  /**
   * default: the result's `platformApproval` (a status, or `{status, rule}` as `fromPlatform`
   * writes it, `not_approved` or `Not Approved`), else derived by `platformApproval`
   */
  approval?: PlatformApproval;
  /** RFC 3339; default: the result's `uploadedAt` extra field, else absent */
  uploadedAt?: string;
}

const TO_VERDICT: Readonly<Record<Verdict, PlatformVerdict>> = inverse(VERDICTS);
const TO_SIGNING: Readonly<Record<SignatureStatus, PlatformSigningStatus>> =
  inverse(SIGNING_STATUSES);
const TO_ENGINE_CATEGORY: Readonly<Record<string, PlatformEngineCategory>> =
  inverse(ENGINE_CATEGORIES);

/** Approval statuses as shown, and as the canonical `platformApproval` keeps them. */
const TO_APPROVAL: Readonly<Record<string, PlatformApprovalStatus>> = Object.freeze({
  ...Object.fromEntries(
    (Object.keys(APPROVAL_STATUSES) as PlatformApprovalStatus[]).map((shown) => [shown, shown]),
  ),
  ...inverse(APPROVAL_STATUSES),
});

const approvalStatus = (value: unknown): PlatformApprovalStatus | undefined =>
  typeof value === "string" ? lookup(TO_APPROVAL, value) : undefined;

/** `development tool` -> `Development Tool`: the platform's display case. */
export function displayCategory(category: string): string {
  return category.replace(/(^|[\s/-])(\p{Ll})/gu, (_, sep: string, c: string) =>
    sep.concat(c.toUpperCase()),
  );
}

/**
 * The platform's own approval outcome for a result (the platform's simple rules, which Clearance
 * never uses for its decision): detections or a high-risk verdict deny, a clean verdict with a
 * valid signature approves, anything else waits for review.
 */
export function platformApproval(result: AnalysisResult): PlatformApproval {
  const malicious = result.engines?.some((e) => e.category === "malicious") ?? false;
  if (malicious || result.verdict === "high_risk")
    return { status: "Not Approved", rule: "Block detected threats" };
  if (result.verdict === "clean" && result.signature?.status === "valid")
    return { status: "Approved", rule: "Trusted signed software" };
  return { status: "Pending Review", rule: "Manual review" };
}

function approvalOf(result: AnalysisResult, given: PlatformApproval | undefined): PlatformApproval {
  if (given !== undefined) return { ...given };
  const extra = result.platformApproval;
  const fromString = approvalStatus(extra);
  if (fromString !== undefined) return { status: fromString };
  if (extra !== null && typeof extra === "object") {
    const { status, rule } = extra as Record<string, unknown>;
    const shown = approvalStatus(status);
    if (shown !== undefined) {
      const approval: PlatformApproval = { status: shown };
      if (typeof rule === "string") approval.rule = rule;
      return approval;
    }
  }
  return platformApproval(result);
}

/**
 * Writes a canonical result as a completed platform file object (property order as in the
 * contract's example). Fields the result lacks are left out; canonical extra fields other than
 * `platformVersion`, `platformApproval` and `uploadedAt` are not carried.
 */
export function toPlatformFile(
  result: AnalysisResult,
  options: ToPlatformOptions = {},
): PlatformFile {
  const version =
    options.version ??
    (typeof result.platformVersion === "number" && Number.isSafeInteger(result.platformVersion)
      ? result.platformVersion
      : 1);
  const file: PlatformFile = { sha256: result.sha256.toLowerCase(), status: "completed", version };
  if (result.fileName !== undefined) file.file_name = result.fileName;
  if (result.fileSize !== undefined) file.file_size = result.fileSize;
  if (result.contentType !== undefined) file.content_type = result.contentType;
  if (result.category !== undefined) file.category = displayCategory(result.category);
  if (result.trustScore !== undefined) file.trust_score = result.trustScore;
  if (result.verdict !== undefined) file.verdict = TO_VERDICT[result.verdict];
  if (result.scoreBreakdown !== undefined)
    file.score_breakdown = result.scoreBreakdown.map((c) => ({ ...c }));
  if (result.signature !== undefined) {
    const s = result.signature;
    const signing: PlatformSigning = { status: TO_SIGNING[s.status] ?? "invalid_signature" };
    if (s.signer !== undefined) signing.signer = s.signer;
    if (s.issuer !== undefined) signing.issuer = s.issuer;
    if (s.thumbprint !== undefined) signing.thumbprint = s.thumbprint;
    if (s.signedAt !== undefined) signing.signed_at = s.signedAt;
    file.signing = signing;
  }
  if (result.vendor !== undefined) file.vendor = { ...result.vendor };
  if (result.engines !== undefined) {
    const detections: Record<string, PlatformEngineResult> = {};
    for (const e of result.engines) {
      const entry: PlatformEngineResult = {
        category: lookup(TO_ENGINE_CATEGORY, e.category ?? "undetected") ?? "failure",
        result: e.result ?? null,
      };
      if (e.version !== undefined) entry.engine_version = e.version;
      detections[e.engine] = entry;
    }
    file.detection_results = detections;
  }
  file.approval = approvalOf(result, options.approval);
  if (result.tags !== undefined) file.tags = [...result.tags];
  if (result.firstSeen !== undefined) file.first_seen = result.firstSeen;
  const uploadedAt =
    options.uploadedAt ?? (typeof result.uploadedAt === "string" ? result.uploadedAt : undefined);
  if (uploadedAt !== undefined) file.uploaded_at = uploadedAt;
  if (result.analyzedAt !== undefined) file.analyzed_at = result.analyzedAt;
  return file;
}
