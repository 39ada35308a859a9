// Test support, exported as @clearance/platform/testing: the file object of docs/platform-api.md,
// for the tests of every package that reads platform input.
import type { PlatformFile } from "./wire.js";

/** The documented file object ("The file object"), completed, with every field; deeply frozen. */
export const DOCUMENTED_FILE: Readonly<PlatformFile> = deepFreeze({
  sha256: "f408e43cacb6783b6fcbf664418c04aa58df99e449e35fcd58945f0f8310dda5",
  status: "completed",
  version: 1,
  file_name: "procexp64.exe",
  file_size: 2651672,
  content_type: "application/vnd.microsoft.portable-executable",
  category: "System Utility",
  trust_score: 97,
  verdict: "Clean",
  score_breakdown: [
    {
      component: "signature",
      label: "Signature validity",
      weight: 0.3,
      value: 100,
      description: "Valid Authenticode signature chaining to a trusted root",
    },
  ],
  signing: {
    status: "valid_signature",
    signer: "Microsoft Corporation",
    issuer: "Microsoft Code Signing PCA 2011",
    thumbprint: "a1b2",
    signed_at: "2025-06-01T10:00:00Z",
  },
  vendor: {
    name: "Microsoft Corporation",
    verified: true,
    product: "Process Explorer",
    version: "17.06",
  },
  detection_results: {
    EngineA: { category: "undetected", result: null, engine_version: "2026.11.1" },
    EngineB: { category: "malicious", result: "Trojan.Generic", engine_version: "9.1" },
  },
  approval: { status: "Approved", rule: "Sanctioned apps" },
  tags: ["pe", "64bit"],
  first_seen: "2026-01-15T08:00:00Z",
  uploaded_at: "2026-11-26T11:59:00Z",
  analyzed_at: "2026-11-26T12:00:00Z",
});

/** Frozen all the way down: one test cannot change the example under another. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
