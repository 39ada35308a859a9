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
import { isV2Report, isVtCliObject, unwrap, V2_REPORT_MESSAGE, vtObjectType } from "./wrappers.js";

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
 * error body (`{"error": {"code": "NotFoundError", ...}}`), a search or list answer whose `data`
 * is an array of objects, a JSON array, a VirusTotal object of another type (`url`, `analysis`),
 * or a VirusTotal API v2 report. Undefined for anything else.
 */
function notAReport(input: unknown): string | undefined {
  if (Array.isArray(input))
    return `the input is a list of ${plural(input.length, "item")} (a JSON array), not one file report: decide each \`[i]\` on its own`;
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
    return `the input is a list of ${plural(data.length, "VirusTotal object")} (a search or collection answer), not one file report: decide each \`data[i]\` on its own`;
  const type = vtObjectType(isObject(data) ? data : input);
  if (type !== undefined && type !== "file")
    return `the input is a VirusTotal \`${type}\` object, not a file object`;
  if (isV2Report(input)) return V2_REPORT_MESSAGE;
  return undefined;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * Adapts the input when needed (detecting its format unless `opts.format` is given), then validates
 * it: the caller gets a validated canonical result, or every problem. Adapter warnings are passed on.
 * An input that no format claims is read as a platform object when it has platform fields and no
 * others, else validated as canonical when it has no VirusTotal-like keys, so its problems are
 * listed. Throws (TypeError) only for invalid options.
 */
export function toCanonical(input: unknown, opts?: ToCanonicalOptions): CanonicalOutcome {
  const limits = checkOptions(opts);
  const failure = notAReport(input);
  if (failure !== undefined) return { ok: false, problems: [{ pointer: "", message: failure }] };
  // a wrapper is looked inside unless the input was declared a format that has none
  if (opts?.format === undefined || opts.format === "virustotal") {
    const wrapped = unwrap(input);
    if (wrapped?.kind === "refused")
      return { ok: false, problems: [{ pointer: "", message: wrapped.message }] };
    if (wrapped !== undefined) return readInner(wrapped, limits);
  }
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
  return readVirusTotal(input, limits);
}

/** The input limits of the options, after checking the options; throws a TypeError. */
function checkOptions(opts: ToCanonicalOptions | undefined): InputLimits {
  const limits = resolveInputLimits(opts?.limits);
  if (opts?.format !== undefined && !INPUT_FORMATS.includes(opts.format)) {
    throw new TypeError(
      `unknown input format \`${String(opts.format)}\` (known formats: ${INPUT_FORMATS.map((f) => `\`${f}\``).join(", ")})`,
    );
  }
  return limits;
}

function readVirusTotal(input: unknown, limits: InputLimits): CanonicalOutcome {
  const adapted = fromVirusTotal(input);
  if (!adapted.ok) return { ok: false, problems: adapted.problems, format: "virustotal" };
  return {
    ...validateResult(adapted.result, limits),
    format: "virustotal",
    warnings: adapted.warnings,
  };
}

/**
 * The file object inside a wrapper, read as VirusTotal: its problems point into the input, and
 * the warning that says where it was read comes first.
 */
function readInner(
  wrapped: { value: unknown; pointer: string; warning: string },
  limits: InputLimits,
): CanonicalOutcome {
  const outcome = readVirusTotal(wrapped.value, limits);
  if (!outcome.ok)
    return {
      ...outcome,
      problems: outcome.problems.map((p) => ({ ...p, pointer: `${wrapped.pointer}${p.pointer}` })),
    };
  return { ...outcome, warnings: [wrapped.warning, ...(outcome.warnings ?? [])] };
}

/** One item of a list input, and what it became. */
export interface InputItem {
  /** where the item is in the input, as people write it: `data[2]`, `[0]` */
  at: string;
  /** the same as a JSON Pointer: `/data/2`, `/0`; the outcome's problems are relative to it */
  pointer: string;
  outcome: CanonicalOutcome;
}

/**
 * An input as one result, or as a list of items each read on its own: what `toCanonicalItems`
 * returns. `what` names the list for messages (`a VirusTotal search or collection answer`).
 */
export type InputItems =
  | { list: false; outcome: CanonicalOutcome }
  | { list: true; what: string; items: InputItem[] };

/**
 * Tells whether the input is a list of results and, if so, what kind: VirusTotal's list answers
 * (`{"data": [...]}`: intelligence search, collections, relationships), vt-cli's output (a JSON
 * array of its flattened objects) or any other JSON array. Undefined for one object.
 */
export function listOf(input: unknown): { what: string; items: unknown[]; at: string } | undefined {
  if (Array.isArray(input))
    return {
      what: input.some(isVtCliObject) ? "vt-cli's output" : "a JSON array",
      items: input,
      at: "",
    };
  if (!isObject(input)) return undefined;
  const data = own(input, "data");
  return Array.isArray(data)
    ? { what: "a VirusTotal search or collection answer", items: data, at: "data" }
    : undefined;
}

/**
 * `toCanonical` for inputs that may be lists: a list (see `listOf`) gives one outcome per item,
 * in order, each read as `toCanonical` reads one input (with the same options, wrappers such as
 * vt-cli's unwrapped); a typed VirusTotal object of another type (a `url` in a search answer)
 * is a problem naming the item and its type. Anything else is read by `toCanonical`. Throws
 * (TypeError) only for invalid options.
 */
export function toCanonicalItems(input: unknown, opts?: ToCanonicalOptions): InputItems {
  checkOptions(opts); // bad options throw even for an empty list
  const list = listOf(input);
  if (list === undefined) return { list: false, outcome: toCanonical(input, opts) };
  const items = list.items.map((item, i): InputItem => {
    const at = `${list.at}[${i}]`;
    const pointer = `${list.at === "" ? "" : `/${list.at}`}/${i}`;
    const type = vtObjectType(item) ?? (isVtCliObject(item) ? String(item._type) : undefined);
    if (type !== undefined && type !== "file")
      return {
        at,
        pointer,
        outcome: {
          ok: false,
          problems: [
            {
              pointer: "",
              message: `\`${at}\` is a VirusTotal \`${type}\` object, not a file object`,
            },
          ],
        },
      };
    // a list inside a list is not a file report: say so for the item rather than look inside
    return { at, pointer, outcome: toCanonical(item, opts) };
  });
  return { list: true, what: list.what, items };
}
