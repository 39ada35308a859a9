/**
 * The platform's wire format (docs/platform-api.md), declared once: the file object, the request
 * and answer bodies, and the values of its enums. The simulator writes these shapes, the client
 * reads them, and the two conversions (to-canonical.ts, from-canonical.ts) map the file object to
 * and from the canonical analysis result.
 */

/** `status` values of a file object: only `completed` is decided. */
export const PLATFORM_STATUSES = Object.freeze(["pending", "completed", "failed"] as const);
export type PlatformStatus = (typeof PLATFORM_STATUSES)[number];

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

export interface PlatformScoreComponent {
  component: string;
  label?: string;
  weight?: number;
  value?: number;
  description?: string;
}

export interface PlatformSigning {
  status: PlatformSigningStatus;
  signer?: string;
  issuer?: string;
  thumbprint?: string;
  signed_at?: string;
}

export interface PlatformVendor {
  name?: string;
  verified?: boolean;
  product?: string;
  version?: string;
}

/**
 * The file object as the platform documents it ("The file object"); optional fields are absent
 * when the analysis did not find them. A `pending` object has only the file fields (`sha256`,
 * `status`, `version`, `file_name`, `file_size`, `content_type`, `uploaded_at`).
 */
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
  score_breakdown?: PlatformScoreComponent[];
  signing?: PlatformSigning;
  vendor?: PlatformVendor;
  detection_results?: Record<string, PlatformEngineResult>;
  approval?: PlatformApproval;
  tags?: string[];
  first_seen?: string;
  uploaded_at?: string;
  analyzed_at?: string;
}

/**
 * A file object as a client receives it: `sha256` and `status` are checked to be strings, every
 * other field is as the platform sent it. `platformToCanonical` reads it with every check.
 */
export interface ReceivedPlatformFile {
  sha256: string;
  status: PlatformStatus | (string & {});
  [field: string]: unknown;
}

/**
 * snake_case fields of a file object that neither a canonical result (camelCase) nor a VirusTotal
 * object has: their presence tells a platform object apart. The file fields are here too, so that
 * a `pending` object (no analysis fields yet) is still recognised, and refused as not completed.
 */
export const PLATFORM_ONLY_FIELDS: readonly (keyof PlatformFile)[] = Object.freeze([
  "trust_score",
  "detection_results",
  "signing",
  "analyzed_at",
  "score_breakdown",
  "file_name",
  "file_size",
  "content_type",
  "first_seen",
  "uploaded_at",
]);

// ---------------------------------------------------------------------------------------------
// Requests and answers

/** `POST /v1/upload` request. */
export interface UploadRequest {
  fileName: string;
  contentType: string;
  sha256: string;
}

/** `POST /v1/upload` answer: where to `PUT` the bytes, until when. */
export interface UploadAnswer {
  uploadId: string;
  uploadUrl: string;
  /** RFC 3339 */
  expiresAt: string;
}

/** `PUT <uploadUrl>` answer. */
export interface PutAnswer {
  sha256: string;
  size: number;
}

/** `POST /v1/upload/complete` request. */
export interface CompleteRequest {
  sha256: string;
}

/** `POST /v1/upload/complete` answer (`202`). */
export interface CompleteAnswer {
  sha256: string;
  status: "pending";
  estimatedSeconds: number;
}

/** `GET /v1/files` query. */
export interface FilesQuery {
  /** RFC 3339: `analyzed_at >= since` */
  since?: string;
  /** RFC 3339: `analyzed_at < until` */
  until?: string;
  sha256?: string;
  /** 1 to 1000, default 100 */
  limit?: number;
  /** `nextCursor` of the previous page */
  cursor?: string;
}

/** `GET /v1/files` answer: completed analyses, oldest first. */
export interface FilesPage {
  data: PlatformFile[];
  nextCursor: string | null;
}

/** The body of a webhook delivery ("Webhooks"); `delivery` is the `X-Platform-Delivery` id. */
export interface WebhookEnvelope {
  event: "analysis.completed";
  delivery: string;
  data: PlatformFile;
}
