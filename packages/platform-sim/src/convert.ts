/**
 * Canonical analysis result -> the platform's file object, per the mapping table of
 * docs/platform-api.md ("The file object"). The engine's platform adapter maps the other way; the
 * two must stay inverse on every field the table lists.
 */
import type { AnalysisResult, SignatureStatus, Verdict } from "@clearance/engine";

export type PlatformStatus = "pending" | "completed" | "failed";
export type PlatformVerdict = "Clean" | "Caution" | "High Risk";
export type PlatformSigningStatus =
  | "valid_signature"
  | "expired_signature"
  | "self_signed_certificate"
  | "no_signature"
  | "invalid_signature";
export type PlatformEngineCategory =
  | "malicious"
  | "suspicious"
  | "undetected"
  | "harmless"
  | "failure"
  | "timeout"
  | "type-unsupported";
export type PlatformApprovalStatus = "Approved" | "Not Approved" | "Pending Review";

export interface PlatformApproval {
  status: PlatformApprovalStatus;
  rule?: string;
}

export interface PlatformEngineResult {
  category: PlatformEngineCategory;
  result: string | null;
  engine_version?: string;
}

/** The platform's file object; optional fields are absent when the analysis did not find them. */
export interface PlatformFile {
  sha256: string;
  status: PlatformStatus;
  version: number;
  file_name?: string;
  file_size?: number;
  content_type?: string;
  category?: string;
  trust_score?: number;
  verdict?: PlatformVerdict;
  score_breakdown?: {
    component: string;
    label?: string;
    weight?: number;
    value?: number;
    description?: string;
  }[];
  signing?: {
    status: PlatformSigningStatus;
    signer?: string;
    issuer?: string;
    thumbprint?: string;
    signed_at?: string;
  };
  vendor?: { name?: string; verified?: boolean; product?: string; version?: string };
  detection_results?: Record<string, PlatformEngineResult>;
  approval?: PlatformApproval;
  tags?: string[];
  first_seen?: string;
  uploaded_at?: string;
  analyzed_at?: string;
}

export interface ToPlatformOptions {
  /** default: the result's `platformVersion`, else 1 */
  version?: number;
  /**
   * default: the result's `platformApproval` (a status, or `{status, rule}` as the engine's
   * adapter writes it, `not_approved` or `Not Approved`), else derived by `platformApproval`
   */
  approval?: PlatformApproval;
  /** RFC 3339; default: the result's `uploadedAt` extra field, else absent */
  uploadedAt?: string;
}

const VERDICTS: Readonly<Record<Verdict, PlatformVerdict>> = {
  clean: "Clean",
  caution: "Caution",
  high_risk: "High Risk",
};

const SIGNING: Readonly<Record<SignatureStatus, PlatformSigningStatus>> = {
  valid: "valid_signature",
  expired: "expired_signature",
  self_signed: "self_signed_certificate",
  unsigned: "no_signature",
  // The table leaves "anything else" open; this is the name a client would guess.
  invalid: "invalid_signature",
};

const ENGINE_CATEGORIES: Readonly<Record<string, PlatformEngineCategory>> = {
  malicious: "malicious",
  suspicious: "suspicious",
  undetected: "undetected",
  harmless: "harmless",
  failed: "failure",
  unsupported: "type-unsupported",
};

/** Approval statuses as shown, and as the engine's adapter writes them in `platformApproval`. */
const APPROVALS: Readonly<Record<string, PlatformApprovalStatus>> = {
  Approved: "Approved",
  "Not Approved": "Not Approved",
  "Pending Review": "Pending Review",
  approved: "Approved",
  not_approved: "Not Approved",
  pending_review: "Pending Review",
};

const approvalStatus = (value: unknown): PlatformApprovalStatus | undefined =>
  typeof value === "string" && Object.hasOwn(APPROVALS, value) ? APPROVALS[value] : undefined;

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
  if (result.verdict !== undefined) file.verdict = VERDICTS[result.verdict];
  if (result.scoreBreakdown !== undefined)
    file.score_breakdown = result.scoreBreakdown.map((c) => ({ ...c }));
  if (result.signature !== undefined) {
    const s = result.signature;
    const signing: NonNullable<PlatformFile["signing"]> = {
      status: SIGNING[s.status] ?? "invalid_signature",
    };
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
        category: ENGINE_CATEGORIES[e.category ?? "undetected"] ?? "failure",
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
