// Renders events as CEF (ArcSight Common Event Format, "Implementing ArcSight CEF" version 25) for
// SIEMs that take syslog and nothing newer: `CEF:0|Clearance|Clearance|<version>|<kind>|<name>|
// <severity 0-10>|<extensions>`. Only the standard's dictionary keys are used, each within its
// type and length. docs/siem.md lists which key carries what.
//
// Escaping, as the standard says: in the header `\` and `|` are escaped with a backslash (and a
// line break, which the header cannot hold, becomes a space); in extension values `\` and `=` are
// escaped and line breaks are written `\n` / `\r`. Truncation: a value longer than its key's maximum
// (in characters, counted as Unicode code points of the value before escaping) keeps its first
// max-1 code points and ends with `…`, so a cut value says it was cut. Trailing spaces and tabs of
// a value are dropped: CEF separates extensions with whitespace, so a receiver could not keep them.

import type { SiemEvent, SiemFile } from "./event.js";
import type { Formatter } from "./format.js";
import { severityScore } from "./severity.js";

type Kind = "string" | "integer" | "long" | "timestamp";

/** The extension keys used here, with the standard's data type and maximum length. */
const KEYS = {
  act: ["string", 63],
  cat: ["string", 1023],
  cn1: ["long", 0],
  cn1Label: ["string", 1023],
  cs1: ["string", 4000],
  cs1Label: ["string", 1023],
  cs2: ["string", 4000],
  cs2Label: ["string", 1023],
  cs3: ["string", 4000],
  cs3Label: ["string", 1023],
  cs4: ["string", 4000],
  cs4Label: ["string", 1023],
  cs5: ["string", 4000],
  cs5Label: ["string", 1023],
  cs6: ["string", 4000],
  cs6Label: ["string", 1023],
  deviceCustomDate1: ["timestamp", 0],
  deviceCustomDate1Label: ["string", 1023],
  externalId: ["string", 40],
  fileHash: ["string", 255],
  fileType: ["string", 1023],
  flexString1: ["string", 1023],
  flexString1Label: ["string", 128],
  flexString2: ["string", 1023],
  flexString2Label: ["string", 128],
  fname: ["string", 1023],
  fsize: ["integer", 0],
  msg: ["string", 1023],
  outcome: ["string", 63],
  request: ["string", 1023],
  rt: ["timestamp", 0],
  suser: ["string", 1023],
} as const satisfies Record<string, readonly [Kind, number]>;

export type CefKey = keyof typeof KEYS;

/** Header field limits (the standard's header table). */
const HEADER_LIMITS = {
  vendor: 63,
  product: 63,
  version: 31,
  signatureId: 1023,
  name: 512,
} as const;

const INT32_MAX = 2 ** 31 - 1;
const ELLIPSIS = "…";

/** Cuts a string to `max` code points, the last being `…`, without splitting a surrogate pair. */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value; // UTF-16 length bounds the code point count
  const codePoints = Array.from(value);
  if (codePoints.length <= max) return value;
  return codePoints.slice(0, max - 1).join("") + ELLIPSIS;
}

function escapeHeader(value: string, max: number): string {
  // every header field must have a value: an empty one (a version nobody set) says so
  const oneLine = value.replace(/\r\n|[\r\n]/g, " ");
  return truncate(oneLine === "" ? "unknown" : oneLine, max).replace(/[\\|]/g, "\\$&");
}

function escapeValue(value: string): string {
  return value.replace(/[\\=\r\n]/g, (c) => (c === "\r" ? "\\r" : c === "\n" ? "\\n" : `\\${c}`));
}

type Extensions = [CefKey, string | number | null | undefined][];

function renderExtensions(pairs: Extensions): string {
  const rendered = new Map<CefKey, string>();
  for (const [key, value] of pairs) {
    if (value === null || value === undefined) continue;
    const [kind, max] = KEYS[key];
    if (kind === "string") {
      const kept = truncate(String(value), max).replace(/[ \t]+$/, "");
      if (kept !== "") rendered.set(key, escapeValue(kept));
    } else if (kind === "integer") {
      // fsize is a 32-bit integer in the standard: a larger file leaves it out rather than lie
      if (Number.isInteger(value) && Math.abs(value as number) <= INT32_MAX)
        rendered.set(key, String(value));
    } else if (Number.isSafeInteger(value)) {
      rendered.set(key, String(value));
    }
  }
  const parts: string[] = [];
  for (const [key, value] of rendered) {
    // a label whose field was left out (empty, or not of its type) would label nothing
    if (key.endsWith("Label") && !rendered.has(key.slice(0, -"Label".length) as CefKey)) continue;
    parts.push(`${key}=${value}`);
  }
  return parts.join(" ");
}

function fileExtensions(file: SiemFile): Extensions {
  const signature =
    file.signatureStatus === null
      ? null
      : [
          file.signatureStatus,
          file.signer && `signer: ${file.signer}`,
          file.vendor && `vendor: ${file.vendor}`,
        ]
          .filter(Boolean)
          .join("; ");
  return [
    ["fname", file.name],
    ["fileHash", file.sha256],
    ["fsize", file.size],
    ["fileType", file.contentType],
    ["cs6Label", signature === null ? null : "fileSignature"],
    ["cs6", signature],
  ];
}

const labelled = (n: 1 | 2 | 3 | 4 | 5, label: string, value: string | null): Extensions =>
  value === null || value === ""
    ? []
    : [
        [`cs${n}Label` as CefKey, label],
        [`cs${n}` as CefKey, value],
      ];

const DECISION_NAME = {
  allow: "file allowed",
  deny: "file denied",
  review: "file held for review",
};

function body(event: SiemEvent): [string, Extensions] {
  switch (event.kind) {
    case "decision":
      return [
        DECISION_NAME[event.decision],
        [
          ["act", event.decision],
          ["msg", event.reason],
          ["suser", event.requester],
          ...fileExtensions(event.file),
          ...labelled(1, "rule", event.rule),
          ...labelled(2, "matchedRules", event.matched.join(",")),
          ...labelled(3, "rulesetRevision", event.ruleset.revision),
          ...labelled(4, "reviewCase", event.caseId),
          ...labelled(5, "exception", event.exceptionId),
          ["flexString1Label", "requestSource"],
          ["flexString1", event.source],
          ...(event.approvalForbiddenBy.length > 0
            ? ([
                ["flexString2Label", "approvalForbiddenBy"],
                ["flexString2", event.approvalForbiddenBy.join(",")],
              ] as Extensions)
            : []),
        ],
      ];
    case "review.opened":
    case "review.resolved":
    case "review.withdrawn":
    case "review.expired":
      return [
        `review case ${event.kind.slice("review.".length)}`,
        [
          ["act", event.kind.slice("review.".length)],
          ["outcome", event.outcome],
          ["msg", event.reason],
          ["suser", event.requester],
          ...fileExtensions(event.file),
          ...labelled(1, "rule", event.rule),
          ...labelled(2, "voters", event.voters.join(",")),
          ...labelled(4, "reviewCase", event.caseId),
          ...labelled(5, "exception", event.exceptionId),
        ],
      ];
    case "review.vote":
      return [
        "review vote",
        [
          ["act", event.vote],
          ["msg", event.justification],
          ["suser", event.voter],
          ["fileHash", event.sha256],
          ...labelled(4, "reviewCase", event.caseId),
        ],
      ];
    case "exception.created":
    case "exception.expired":
    case "exception.revoked":
      return [
        `exception ${event.kind.slice("exception.".length)}`,
        [
          ["act", event.kind.slice("exception.".length)],
          ["msg", event.justification],
          ["suser", event.actors.join(",")],
          ["fileHash", event.scope.kind === "file" ? event.scope.value : null],
          ...labelled(1, "exceptionStatus", event.status),
          ...labelled(2, "exceptionScope", `${event.scope.kind}:${event.scope.value}`),
          ...labelled(4, "reviewCase", event.caseId),
          ...labelled(5, "exception", event.exceptionId),
          ["deviceCustomDate1Label", event.expires === null ? null : "expires"],
          ["deviceCustomDate1", event.expires === null ? null : Date.parse(event.expires)],
        ],
      ];
    case "ruleset.loaded":
      return [
        "rule set loaded",
        [
          ["act", "loaded"],
          ["outcome", "success"],
          [
            "msg",
            `rule set ${event.ruleset.revision} loaded (${event.rules} rules, ${event.trigger})`,
          ],
          ...labelled(1, "trigger", event.trigger),
          ...labelled(2, "previousRevision", event.previous),
          ...labelled(3, "rulesetRevision", event.ruleset.revision),
          ["cn1Label", "rules"],
          ["cn1", event.rules],
        ],
      ];
    case "ruleset.failed":
      return [
        "rule set failed to load",
        [
          ["act", "failed"],
          ["outcome", "failure"],
          ["msg", event.message],
          ...labelled(1, "trigger", event.trigger),
          ...labelled(2, "diagnosticCode", event.code),
          ...labelled(3, "rulesetRevision", event.ruleset?.revision ?? null),
          ...labelled(5, "location", event.location),
        ],
      ];
    case "audit.verify_failed":
      return [
        "audit chain verification failed",
        [
          ["act", "verify"],
          ["outcome", "failure"],
          ["msg", event.message],
          ...labelled(1, "auditChain", event.chain),
          ...labelled(2, "problem", event.problem),
          ["cn1Label", "auditSeq"],
          ["cn1", event.seq],
        ],
      ];
  }
}

export function renderCef(event: SiemEvent): string {
  const [name, extensions] = body(event);
  const header = [
    "CEF:0",
    escapeHeader("Clearance", HEADER_LIMITS.vendor),
    escapeHeader(event.product.name, HEADER_LIMITS.product),
    escapeHeader(event.product.version, HEADER_LIMITS.version),
    escapeHeader(event.kind, HEADER_LIMITS.signatureId),
    escapeHeader(name, HEADER_LIMITS.name),
    String(severityScore(event)),
  ].join("|");
  const common = renderExtensions([
    ["rt", Date.parse(event.time)],
    ["externalId", event.id],
    ["cat", event.kind],
    ["request", event.link],
  ]);
  return `${header}|${common} ${renderExtensions(extensions)}`.trimEnd();
}

export const cefFormatter: Formatter = Object.freeze({
  name: "cef",
  contentType: "text/plain",
  render: renderCef,
});
