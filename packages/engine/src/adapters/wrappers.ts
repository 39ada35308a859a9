/**
 * What other tools hand over instead of a bare VirusTotal v3 file object, recognised by shape.
 * Each shape is taken from the code of the tool that writes it (repository, path):
 *
 * - vt-cli (`VirusTotal/vt-cli`, `utils/printer.go`: `ObjectToMap`, `PrintObjects`): `vt file
 *   <hash> --format json` prints a JSON array with one object per file, the file's attributes at
 *   the top level beside `_id`, `_type` (and `_context_attributes`), relationships as ids.
 *   Unwrapped: the attributes are read where they are.
 * - vt-py (`VirusTotal/vt-py`, `vt/object.py`: `Object.to_dict`): `{type, id, attributes,
 *   relationships?, context_attributes?}`, which the adapter reads as it is (no wrapper).
 * - Cortex analyzers (`TheHive-Project/cortexutils`, `cortexutils/analyzer.py`: `report`, and
 *   `cortexutils/worker.py`: `error`; `TheHive-Project/Cortex-Analyzers`,
 *   `analyzers/VirusTotal/virustotal.py`): a job's report is `{success: true, summary, artifacts,
 *   full}` where `full` is vt-py's `to_dict()` of the file object with `relations` and `iocs`
 *   added; a hash VirusTotal does not know gives `full: {message: "Report not found."}`; a failed
 *   job is `{success: false, input, errorMessage}`. Unwrapped when `full` is a file object.
 * - VirusTotal API v2 file reports (`response_code`, `scans`, `positives`, `total`), which the
 *   same analyzer read before it moved to vt-py: refused, Clearance reads v3 objects.
 * - VirusTotal's list answers (intelligence search, collections, relationships): `{data: [...],
 *   meta?, links?}`, and vt-cli's array: each item decided (`toCanonicalItems`).
 *
 * MISP and SOAR playbooks were looked at too: MISP's VirusTotal module answers with MISP objects
 * and attributes built from the report, not the report, so nothing can be read from them without
 * guessing; they are refused by the generic "cannot tell the input format".
 */

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function own(object: Obj, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** `text` quoted in backticks, shortened to `max` characters. */
function quote(text: string, max = 200): string {
  return `\`${text.length > max ? `${text.slice(0, max)}...` : text}\``;
}

/** A VirusTotal API v2 file report (`response_code` with `scans` or `positives`). */
export function isV2Report(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof own(value, "response_code") === "number" &&
    (isObject(own(value, "scans")) || typeof own(value, "positives") === "number")
  );
}

const V2_HELP = "get the file's report from the v3 API (`/api/v3/files/{id}`)";

/** The `type` of a typed VirusTotal object (`{type, attributes}`), when it is one. */
export function vtObjectType(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const type = own(value, "type");
  return typeof type === "string" && isObject(own(value, "attributes")) ? type : undefined;
}

/** vt-cli's object: attributes at the top level beside `_id` and `_type`. */
export function isVtCliObject(value: unknown): value is Obj {
  return (
    isObject(value) &&
    typeof own(value, "_id") === "string" &&
    typeof own(value, "_type") === "string"
  );
}

/** The keys vt-cli adds beside the attributes. */
const VT_CLI_KEYS: ReadonlySet<string> = new Set(["_id", "_type", "_context_attributes"]);

/**
 * How to read a wrapped input: the file object inside (`value`, at JSON Pointer `pointer` of the
 * input, with the warning that says so), or why the input holds none (`refused`).
 */
export type Unwrapped =
  | { kind: "inner"; value: unknown; pointer: string; warning: string }
  | { kind: "refused"; message: string };

/**
 * Recognises the wrappers above around one object. Undefined for anything else (a file object
 * itself, a canonical result, a list).
 */
export function unwrap(input: unknown): Unwrapped | undefined {
  if (isVtCliObject(input)) {
    const type = input._type as string;
    if (type !== "file")
      return {
        kind: "refused",
        message: `the input is vt-cli's output for a VirusTotal \`${type}\` object, not a file object: run \`vt file <hash> --format json\``,
      };
    // the attributes are read where vt-cli put them: problems and warnings name the same keys
    const attributes: Obj = {};
    for (const key of Object.keys(input)) if (!VT_CLI_KEYS.has(key)) attributes[key] = input[key];
    if (!Object.hasOwn(attributes, "sha256")) attributes.sha256 = input._id;
    return {
      kind: "inner",
      value: attributes,
      pointer: "",
      warning: "read the file object inside vt-cli's output (`_id`, `_type` and the attributes)",
    };
  }
  if (!isObject(input) || typeof own(input, "success") !== "boolean") return undefined;
  if (own(input, "success") === false) {
    const message = own(input, "errorMessage");
    if (typeof message !== "string") return undefined;
    return {
      kind: "refused",
      message: `the input is a failed Cortex analyzer job, not a file report: ${quote(message)}`,
    };
  }
  if (!Object.hasOwn(input, "full")) return undefined;
  const full = own(input, "full");
  if (isV2Report(full))
    return {
      kind: "refused",
      message: `the input is a Cortex analyzer report holding a VirusTotal API v2 report (\`full.response_code\`, \`full.scans\`), not a v3 file object: ${V2_HELP}`,
    };
  const type = vtObjectType(full);
  if (type === "file")
    return {
      kind: "inner",
      value: full,
      pointer: "/full",
      warning: "read the VirusTotal file object in `full` of a Cortex analyzer report",
    };
  if (type !== undefined)
    return {
      kind: "refused",
      message: `the input is a Cortex analyzer report on a VirusTotal \`${type}\` object, not a file object`,
    };
  const message = isObject(full) ? own(full, "message") : undefined;
  return {
    kind: "refused",
    message:
      typeof message === "string"
        ? `the input is a Cortex analyzer report without a VirusTotal file object: ${quote(message)}`
        : "the input is a Cortex analyzer report whose `full` holds no VirusTotal file object (`type`, `id`, `attributes`)",
  };
}

/** Why a v2 report is refused; for `notAReport`. */
export const V2_REPORT_MESSAGE = `the input is a VirusTotal API v2 file report (\`response_code\`, \`scans\`), not a v3 file object: ${V2_HELP}`;
