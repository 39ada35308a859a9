/**
 * Input format detection, and the one entry point that turns any supported input into a validated
 * canonical result.
 */
import {
  type InputLimits,
  resolveInputLimits,
  type ValidationOutcome,
  validateResult,
} from "../validate.js";
import { fromVirusTotal } from "./virustotal.js";

export type InputFormat = "canonical" | "virustotal";

export const INPUT_FORMATS: readonly InputFormat[] = Object.freeze(["canonical", "virustotal"]);

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

const hasAny = (object: Obj, keys: readonly string[]) => keys.some((k) => Object.hasOwn(object, k));

/**
 * Tells the format of a parsed input: VirusTotal for `{"data": {"attributes": {...}}}`, for a
 * top-level `attributes` object holding analysis results (or with `"type": "file"`), and for a bare
 * attributes object (top-level `last_analysis_stats` / `last_analysis_results`); canonical for a
 * top-level string `sha256` without `attributes`. Undefined when neither or both apply.
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
  const canonical =
    typeof own(input, "sha256") === "string" && attributes === undefined && !bareAttributes;
  if (virustotal === canonical) return undefined;
  return virustotal ? "virustotal" : "canonical";
}

/**
 * Adapts the input when needed (detecting its format unless `opts.format` is given), then validates
 * it: the caller gets a validated canonical result, or every problem. Adapter warnings are passed on.
 * An input that no format claims is validated as canonical when it has no VirusTotal-like keys, so
 * its problems are listed. Throws (TypeError) only for invalid options.
 */
export function toCanonical(input: unknown, opts?: ToCanonicalOptions): CanonicalOutcome {
  const limits = resolveInputLimits(opts?.limits);
  if (opts?.format !== undefined && !INPUT_FORMATS.includes(opts.format)) {
    throw new TypeError(
      `unknown input format \`${String(opts.format)}\` (known formats: \`canonical\`, \`virustotal\`)`,
    );
  }
  let format = opts?.format ?? detectFormat(input);
  if (format === undefined) {
    const vtLike =
      isObject(input) && (hasAny(input, ["data", "attributes"]) || hasAny(input, VT_ANALYSIS_KEYS));
    if (vtLike) {
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
    }
    format = "canonical";
  }
  if (format === "canonical") return { ...validateResult(input, limits), format };
  const adapted = fromVirusTotal(input);
  if (!adapted.ok) return { ok: false, problems: adapted.problems, format };
  return { ...validateResult(adapted.result, limits), format, warnings: adapted.warnings };
}
