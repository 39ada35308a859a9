// One event of each kind, as `clearance siem test` sends them and the format tests render them.
// Their ids say they are samples (`00000000-...`), so a receiver can tell them from real events.

import type { SiemEvent, SiemFile } from "./event.js";

const FILE: SiemFile = {
  sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  name: "setup.exe",
  size: 482_304,
  contentType: "application/vnd.microsoft.portable-executable",
  signatureStatus: "valid",
  signer: "Contoso Ltd",
  vendor: "Contoso Ltd",
};

const PRODUCT = { name: "Clearance", version: "0.1.0" } as const;

/** Sample events of every kind, at `time` (RFC 3339), named for `version`. */
export function sampleEvents(time: string, version: string = PRODUCT.version): SiemEvent[] {
  const product = { name: "Clearance" as const, version };
  let n = 0;
  const base = () => {
    n++;
    const id = `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`;
    return { id, time, entry: { id, chain: "sample", seq: n }, link: null, product };
  };
  const ruleset = { revision: "sha256:5d41402abc4b2a76b9719d911017c592", commit: "3f2c1a9" };
  return [
    {
      ...base(),
      kind: "decision",
      decision: "deny",
      rule: "many_detections",
      reason: "12 engines flag it as malicious",
      matched: ["any_malicious_detection", "many_detections"],
      ruleset,
      requester: "ci-pipeline",
      source: "api",
      file: { ...FILE, signatureStatus: "unsigned", signer: null, vendor: null },
      caseId: null,
      exceptionId: null,
      approvalForbiddenBy: ["any_malicious_detection"],
    },
    {
      ...base(),
      kind: "decision",
      decision: "allow",
      rule: "trusted_publisher",
      reason: "signed by Contoso Ltd",
      matched: ["trusted_publisher"],
      ruleset,
      requester: "user:alice",
      source: "api",
      file: FILE,
      caseId: null,
      exceptionId: null,
      approvalForbiddenBy: [],
    },
    {
      ...base(),
      kind: "decision",
      decision: "review",
      rule: null,
      reason: "no rule matched",
      matched: [],
      ruleset,
      requester: "ci-pipeline",
      source: "webhook",
      file: FILE,
      caseId: "00000000-0000-7000-8000-0000000000c1",
      exceptionId: null,
      approvalForbiddenBy: [],
    },
    {
      ...base(),
      kind: "review.opened",
      caseId: "00000000-0000-7000-8000-0000000000c1",
      file: FILE,
      rule: null,
      reason: "no rule matched",
      requester: "ci-pipeline",
      outcome: null,
      exceptionId: null,
      voters: [],
    },
    {
      ...base(),
      kind: "review.vote",
      caseId: "00000000-0000-7000-8000-0000000000c1",
      sha256: FILE.sha256,
      voter: "user:alice",
      vote: "approve",
      justification: "vendor build, ticket SEC-1042",
    },
    {
      ...base(),
      kind: "review.resolved",
      caseId: "00000000-0000-7000-8000-0000000000c1",
      file: FILE,
      rule: null,
      reason: "no rule matched",
      requester: "ci-pipeline",
      outcome: "approved",
      exceptionId: "00000000-0000-7000-8000-0000000000e1",
      voters: ["user:alice", "user:bob"],
    },
    {
      ...base(),
      kind: "review.withdrawn",
      caseId: "00000000-0000-7000-8000-0000000000c2",
      file: FILE,
      rule: null,
      reason: "no rule matched",
      requester: "ci-pipeline",
      outcome: null,
      exceptionId: null,
      voters: [],
    },
    {
      ...base(),
      kind: "review.expired",
      caseId: "00000000-0000-7000-8000-0000000000c3",
      file: FILE,
      rule: null,
      reason: "no rule matched",
      requester: "ci-pipeline",
      outcome: null,
      exceptionId: null,
      voters: [],
    },
    {
      ...base(),
      kind: "exception.created",
      exceptionId: "00000000-0000-7000-8000-0000000000e1",
      status: "approved",
      scope: { kind: "file", value: FILE.sha256 },
      expires: "2027-01-01T00:00:00.000Z",
      actors: ["user:alice", "user:bob"],
      justification: "vendor build, ticket SEC-1042",
      caseId: "00000000-0000-7000-8000-0000000000c1",
    },
    {
      ...base(),
      kind: "exception.expired",
      exceptionId: "00000000-0000-7000-8000-0000000000e2",
      status: "approved",
      scope: { kind: "vendor", value: "Contoso Ltd / Contoso Agent" },
      expires: time,
      actors: [],
      justification: null,
      caseId: null,
    },
    {
      ...base(),
      kind: "exception.revoked",
      exceptionId: "00000000-0000-7000-8000-0000000000e3",
      status: "approved",
      scope: { kind: "signer", value: "A99D5B79E9F1CDA59CDAB6373169D5353F5874C6" },
      expires: null,
      actors: ["admin"],
      justification: "certificate reported stolen",
      caseId: null,
    },
    {
      ...base(),
      kind: "ruleset.loaded",
      ruleset,
      previous: "sha256:7d793037a0760186574b0282f2f435e7",
      rules: 12,
      trigger: "watch",
    },
    {
      ...base(),
      kind: "ruleset.failed",
      ruleset,
      trigger: "watch",
      code: "unknown_field",
      message: "unknown field `trustScor` in the result; did you mean `trustScore`?",
      location: "threats.rules:14:8",
    },
    {
      ...base(),
      kind: "audit.verify_failed",
      chain: "replica-a",
      seq: 1042,
      problem: "hash_mismatch",
      message:
        "entry 1042 of chain `replica-a` does not verify: hash mismatch (edited, or written with another `audit.hmacSecret`)",
    },
  ];
}
