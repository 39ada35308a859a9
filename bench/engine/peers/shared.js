// Constants shared by the peer implementations of the 20 benchmark rules
// (bench/engine/rules/bench.rules is the Clearance source of truth).

export const TRUSTED_VENDORS = ["Microsoft Corporation", "Google LLC", "Apple Inc."];
export const TRUSTED_CATEGORIES = ["browser", "development tool"];

/** Deny-overrides: any deny -> deny, else any review -> review, else any allow -> allow, else the default. */
export function combine(effects, fallback = "review") {
  if (effects.includes("deny")) return "deny";
  if (effects.includes("review")) return "review";
  if (effects.includes("allow")) return "allow";
  return fallback;
}
