/**
 * Input format detection, and the one entry point that turns any supported input into a validated
 * canonical result.
 */
import { PLATFORM_ONLY_FIELDS, platformToCanonical } from "@clearance/platform";
import {
  type InputLimits,
  resolveInputLimits,
  type ValidationOutcome,
  validateResult,
} from "@clearance/result";
import { fromVirusTotal } from "./virustotal.js";

export type InputFormat = "canonical" | "virustotal" | "platform";

export const INPUT_FORMATS: readonly InputFormat[] = Object.freeze([
  "canonical",
  "virustotal",
  "platform",
]);

export interface ToCanonicalOptions {
  /** Skip detection and read the input as this format. */
  format?: InputFormat;
  limits?: Partial<InputLimits>;
}

export type CanonicalOutcome = ValidationOutcome & { format?: InputFormat; warnings?: string[] };

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function own(object: Obj, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

const VT_ANALYSIS_KEYS = ["last_analysis_stats", "last_analysis_results"];
/** Fields only a canonical result has: their presence next to VirusTotal keys is ambiguous. */
const CANONICAL_ONLY_KEYS = [
  "trustScore",
  "verdict",
  "scoreBreakdown",
  "detections",
  "engines",
  "signature",
  "vendor",
];

/** camelCase fields of a canonical result: their presence next to platform keys is ambiguous. */
const CANONICAL_CAMEL_KEYS = [
  "fileName",
  "fileSize",
  "contentType",
  "trustScore",
  "scoreBreakdown",
  "detections",
  "engines",
  "signature",
  "firstSeen",
  "analyzedAt",
];

const hasAny = (object: Obj, keys: readonly string[]) => keys.some((k) => Object.hasOwn(object, k));

/**
 * Tells the format of a parsed input: VirusTotal for `{"data": {"attributes": {...}}}`, for a
 * top-level `attributes` object holding analysis results (or with `"type": "file"`), and for a bare
 * attributes object (top-level `last_analysis_stats` / `last_analysis_results`); platform for a
 * top-level string `sha256` with any of the platform's snake_case fields (`trust_score`,
 * `detection_results`, `signing`, `analyzed_at`, `file_name`, ...) and no camelCase canonical
 * field; canonical for a top-level string `sha256` without `attributes` or platform fields.
 * Undefined when none or more than one apply.
 */
export function detectFormat(input: unknown): InputFormat | undefined {
  if (!isObject(input)) return undefined;
  const data = own(input, "data");
  const attributes = own(input, "attributes");
  const bareAttributes = hasAny(input, VT_ANALYSIS_KEYS);
  const virustotal =
    (isObject(data) && isObject(own(data, "attributes"))) ||
    (isObject(attributes) &&
      (hasAny(attributes, VT_ANALYSIS_KEYS) || own(input, "type") === "file")) ||
    (bareAttributes && !hasAny(input, CANONICAL_ONLY_KEYS));
  const sha256 = typeof own(input, "sha256") === "string";
  const platformKeys = hasAny(input, PLATFORM_ONLY_FIELDS);
  const platform = sha256 && platformKeys && !hasAny(input, CANONICAL_CAMEL_KEYS);
  const canonical = sha256 && attributes === undefined && !bareAttributes && !platformKeys;
  const claims = [virustotal, platform, canonical].filter(Boolean).length;
  if (claims !== 1) return undefined;
  return virustotal ? "virustotal" : platform ? "platform" : "canonical";
}

const FORMAT_NAMES: Readonly<Record<InputFormat, string>> = {
  canonical: "a canonical result (top-level `sha256` and camelCase fields)",
  virustotal: "a VirusTotal file object (`data.attributes`)",
  platform: "a platform result (snake_case fields such as `trust_score`)",
};

/**
 * Why the input is no file report at all, for what tools commonly hand over instead: VirusTotal's
 * error body (`{"error": {"code": "NotFoundError", ...}}`), or a search or list answer whose
 * `data` is an array of objects. Undefined for anything else.
 */
function notAReport(input: unknown): string | undefined {
  if (!isObject(input)) return undefined;
  const error = own(input, "error");
  if (
    isObject(error) &&
    typeof own(error, "code") === "string" &&
    !hasAny(input, ["data", "sha256"])
  ) {
    const message = own(error, "message");
    return `the input is a VirusTotal error, not a file report: \`${String(own(error, "code"))}\`${typeof message === "string" && message !== "" ? ` (${message.slice(0, 200)})` : ""}`;
  }
  const data = own(input, "data");
  if (Array.isArray(data))
    return `the input is a list of ${data.length} VirusTotal object${data.length === 1 ? "" : "s"} (a search or collection answer), not one file report: decide each \`data[i]\` on its own`;
  return undefined;
}

/**
 * Adapts the input when needed (detecting its format unless `opts.format` is given), then validates
 * it: the caller gets a validated canonical result, or every problem. Adapter warnings are passed on.
 * An input that no format claims is read as a platform object when it has platform fields and no
 * others, else validated as canonical when it has no VirusTotal-like keys, so its problems are
 * listed. Throws (TypeError) only for invalid options.
 */
export function toCanonical(input: unknown, opts?: ToCanonicalOptions): CanonicalOutcome {
  const limits = resolveInputLimits(opts?.limits);
  if (opts?.format !== undefined && !INPUT_FORMATS.includes(opts.format)) {
    throw new TypeError(
      `unknown input format \`${String(opts.format)}\` (known formats: ${INPUT_FORMATS.map((f) => `\`${f}\``).join(", ")})`,
    );
  }
  const failure = notAReport(input);
  if (failure !== undefined) return { ok: false, problems: [{ pointer: "", message: failure }] };
  const detected = detectFormat(input);
  // a declared format is a promise about the input: one the input plainly breaks is an error, never
  // a decision on fields read from the wrong places (`canonical` stays the way to force a reading)
  if (
    opts?.format !== undefined &&
    opts.format !== "canonical" &&
    detected !== undefined &&
    detected !== opts.format &&
    // a bare `{sha256}` reads as canonical for want of anything else: no evidence against the
    // declared format; camelCase canonical fields, VirusTotal's `data` or platform fields are
    (detected !== "canonical" || hasAny(input as Obj, CANONICAL_CAMEL_KEYS))
  )
    return {
      ok: false,
      problems: [
        {
          pointer: "",
          message: `the input was declared \`${opts.format}\` but reads as ${FORMAT_NAMES[detected]}: leave the format out to detect it, or pass \`${detected}\``,
        },
      ],
      format: opts.format,
    };
  let format = opts?.format ?? detected;
  if (format === undefined) {
    const vtLike =
      isObject(input) && (hasAny(input, ["data", "attributes"]) || hasAny(input, VT_ANALYSIS_KEYS));
    if (isObject(input) && hasAny(input, PLATFORM_ONLY_FIELDS)) {
      if (vtLike || hasAny(input, CANONICAL_CAMEL_KEYS)) {
        return {
          ok: false,
          problems: [
            {
              pointer: "",
              message:
                "cannot tell the input format: platform fields (snake_case, such as `trust_score`) are mixed with canonical (camelCase) or VirusTotal fields",
            },
          ],
        };
      }
      format = "platform"; // a platform object without a string sha256: list its problems
    } else if (vtLike) {
      return {
        ok: false,
        problems: [
          {
            pointer: "",
            message:
              "cannot tell the input format: expected a canonical result (top-level `sha256`) or a VirusTotal file object (`data.attributes`)",
          },
        ],
      };
    } else {
      format = "canonical";
    }
  }
  if (format === "canonical") return { ...validateResult(input, limits), format };
  if (format === "platform") return platformToCanonical(input, limits);
  const adapted = fromVirusTotal(input);
  if (!adapted.ok) return { ok: false, problems: adapted.problems, format };
  return { ...validateResult(adapted.result, limits), format, warnings: adapted.warnings };
}
