/**
 * The platform's enum values and the canonical ones, one table per field (the mapping table of
 * docs/platform-api.md), read in both directions: to-canonical.ts reads each table forwards,
 * from-canonical.ts through `inverse`. A value added here is added to both conversions.
 */
import type { Detections, SignatureStatus, Verdict } from "@clearance/result";
import type {
  PlatformApprovalStatus,
  PlatformEngineCategory,
  PlatformSigningStatus,
  PlatformVerdict,
} from "./wire.js";

export const VERDICTS: Readonly<Record<PlatformVerdict, Verdict>> = Object.freeze({
  Clean: "clean",
  Caution: "caution",
  "High Risk": "high_risk",
});

export const SIGNING_STATUSES: Readonly<Record<PlatformSigningStatus, SignatureStatus>> =
  Object.freeze({
    valid_signature: "valid",
    expired_signature: "expired",
    self_signed_certificate: "self_signed",
    no_signature: "unsigned",
    // A signature that is present but does not verify (tampered, broken chain). The table leaves
    // "anything else" open; this is the name a client would guess.
    invalid_signature: "invalid",
  });

/**
 * Platform engine category -> canonical category (and `detections` key). Two platform values read
 * as `failed`: the first one listed, `failure`, is the one written back.
 */
export const ENGINE_CATEGORIES: Readonly<Record<PlatformEngineCategory, keyof Detections>> =
  Object.freeze({
    malicious: "malicious",
    suspicious: "suspicious",
    undetected: "undetected",
    harmless: "harmless",
    failure: "failed",
    timeout: "failed",
    "type-unsupported": "unsupported",
  });

/** Approval status as shown -> as kept in the canonical `platformApproval` extra field. */
export const APPROVAL_STATUSES: Readonly<Record<PlatformApprovalStatus, string>> = Object.freeze({
  Approved: "approved",
  "Not Approved": "not_approved",
  "Pending Review": "pending_review",
});

/**
 * The table read backwards: value -> key. Where several keys share a value, the first listed wins.
 * Null-prototype, so that a lookup of `constructor` or `toString` finds nothing.
 */
export function inverse<K extends string, V extends string>(
  table: Readonly<Record<K, V>>,
): Readonly<Record<V, K>> {
  const out = Object.create(null) as Record<V, K>;
  for (const [key, value] of Object.entries(table) as [K, V][]) {
    if (!Object.hasOwn(out, value)) out[value] = key;
  }
  return Object.freeze(out);
}

/** The entry of `table` for `key`, own properties only (never `constructor`, `toString`...). */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
