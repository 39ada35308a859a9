import { createHash, createHmac } from "node:crypto";

export const DECISION_SOURCES = Object.freeze(["api", "batch", "webhook", "gate", "sync"] as const);
export type DecisionSource = (typeof DECISION_SOURCES)[number];

/** What a decision contributes to the log; the log adds its place in the chain. */
export interface AuditRecord {
  /** time-ordered UUIDv7 */
  id: string;
  /** RFC 3339 with milliseconds, UTC */
  time: string;
  source: DecisionSource;
  /** the API key id that asked, or null */
  requester: string | null;
  sha256: string;
  fileName: string | null;
  decision: "allow" | "deny" | "review";
  rule: string | null;
  reason: string;
  matched: string[];
  monitored: string[];
  errors: { rule: string; message: string; monitor: boolean }[];
  ruleset: { revision: string; commit: string | null; dirty: boolean };
  /** evaluation time in microseconds */
  latencyUs: number;
  /** SHA-256 of the stored input snapshot (content-addressed) */
  inputHash: string;
  /** the shadow rule set's answer, when one is configured */
  shadow: { decision: string; rule: string | null; revision: string } | null;
  /** the platform's delivery id, for webhook entries */
  deliveryId: string | null;
  /** stored when the caller asked for an explanation */
  explain: unknown | null;
}

/** An entry as stored: the record, its place in its chain and its hashes. */
export interface AuditEntry extends AuditRecord {
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
}

/** The previous hash of a chain's first entry. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * Each entry's hash covers the previous entry's hash and its own canonical body. With a key it is an
 * HMAC, so someone who can write to the database but does not hold the key cannot recompute the chain.
 */
export function chainHash(prevHash: string, body: string, key: string | null): string {
  const h = key === null ? createHash("sha256") : createHmac("sha256", key);
  return h.update(prevHash).update("\n").update(body).digest("hex");
}

/** A checkpoint's MAC binds where the kept chain starts, so a forged checkpoint is detected too. */
export function checkpointMac(
  chain: string,
  seq: number,
  hash: string,
  key: string | null,
): string {
  return chainHash("checkpoint", `${chain}\n${seq}\n${hash}`, key);
}

export function contentHash(body: string): string {
  return createHash("sha256").update(body).digest("hex");
}

/** Rebuilds an entry from its stored body. */
export function parseEntry(body: string, hash: string): AuditEntry {
  const b = JSON.parse(body) as AuditRecord & {
    v: number;
    chain: string;
    seq: number;
    prevHash: string;
  };
  const { v: _v, ...rest } = b as typeof b & { v: number };
  return { ...rest, hash };
}
