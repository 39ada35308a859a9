/**
 * What other tools put around VirusTotal file objects, and lists of them. The file object in every
 * sample is a real VirusTotal v3 report of the corpus (`examples/virustotal/real/`, see its
 * PROVENANCE.md); the wrappers around it are built as the tools' code builds them:
 * - vt-cli: `VirusTotal/vt-cli`, `utils/printer.go` (`ObjectToMap`, `PrintObjects`), at commit
 *   306021c456b915578d229fa15f70d4249275b63b;
 * - vt-py: `VirusTotal/vt-py`, `vt/object.py` (`Object.to_dict`), at 73e4e6a662544381eb5255ca97c2cc42ab6374b7;
 * - Cortex: `TheHive-Project/cortexutils`, `cortexutils/analyzer.py` (`report`) and
 *   `cortexutils/worker.py` (`error`), with `TheHive-Project/Cortex-Analyzers`,
 *   `analyzers/VirusTotal/virustotal.py` at 0ace97a0d688d3861810cf6e2e3a86468fd824f4 (v3, vt-py)
 *   and c02a2af7a9bc8506f640955caa086f11a92afa41 (v2: the fields of the v2 report it read).
 */
import { readFileSync } from "node:fs";
import type { AnalysisResult } from "@clearance/result";
import { describe, expect, it } from "vitest";
import {
  type CanonicalOutcome,
  type InputFormat,
  toCanonical,
  toCanonicalItems,
} from "../src/adapters/detect.js";

type Obj = Record<string, unknown>;

const real = (name: string) =>
  (
    JSON.parse(
      readFileSync(new URL(`../../../examples/virustotal/real/${name}`, import.meta.url), "utf8"),
    ) as { data: { id: string; type: string; links: unknown; attributes: Obj } }
  ).data;

const PE = real("pe-exe-dotnet-unsigned.json");
const PS1 = real("script-powershell.json");

/** What the adapter makes of the report as VirusTotal's API gives it: what every wrapper must give. */
function direct(object: typeof PE): { result: AnalysisResult; warnings: string[] } {
  const outcome = toCanonical({ data: object });
  if (!outcome.ok) throw new Error(JSON.stringify(outcome.problems));
  return { result: outcome.result, warnings: outcome.warnings ?? [] };
}

/** vt-cli's `ObjectToMap`: attributes at the top level beside `_id` and `_type`. */
const vtCli = (object: typeof PE, extra: Obj = {}): Obj => ({
  _id: object.id,
  _type: object.type,
  ...object.attributes,
  ...extra,
});

/** vt-py's `Object.to_dict()`. */
const vtPy = (object: typeof PE): Obj => ({
  type: object.type,
  id: object.id,
  attributes: object.attributes,
});

/** A Cortex analyzer's report of a job: `full` is vt-py's dict with `relations` and `iocs`. */
const cortex = (full: unknown): Obj => ({
  success: true,
  summary: { taxonomies: [] },
  artifacts: [],
  full,
});

const CORTEX_FULL = {
  ...vtPy(PE),
  relations: { contacted_domains: { data: [], meta: { count: 0 } } },
  iocs: { ip: [], domain: [], url: [], other: [] },
};

const VT_CLI_WARNING =
  "read the file object inside vt-cli's output (`_id`, `_type` and the attributes)";
const CORTEX_WARNING = "read the VirusTotal file object in `full` of a Cortex analyzer report";

function expectOk(outcome: CanonicalOutcome): { result: AnalysisResult; warnings: string[] } {
  if (!outcome.ok) throw new Error(`expected ok, got ${JSON.stringify(outcome.problems)}`);
  return { result: outcome.result, warnings: outcome.warnings ?? [] };
}

describe("wrappers around one file object", () => {
  const { result, warnings } = direct(PE);
  const { sha256: _sha, ...withoutSha } = PE.attributes;
  it.each<[string, unknown, string | undefined]>([
    ["vt-cli's object", vtCli(PE), VT_CLI_WARNING],
    [
      "vt-cli's object with context attributes",
      vtCli(PE, { _context_attributes: { confidence: 1 } }),
      VT_CLI_WARNING,
    ],
    [
      "vt-cli's object without a `sha256` attribute (--exclude)",
      { _id: PE.id, _type: "file", ...withoutSha },
      VT_CLI_WARNING,
    ],
    ["vt-py's to_dict() (no wrapper)", vtPy(PE), undefined],
    ["a Cortex analyzer report", cortex(CORTEX_FULL), CORTEX_WARNING],
  ])("reads the file object in %s, as when it comes bare", (_name, input, wrapper) => {
    for (const format of [undefined, "virustotal"] as const) {
      const got = expectOk(toCanonical(input, format ? { format } : undefined));
      expect(got.result).toEqual(result);
      expect(got.warnings).toEqual(wrapper ? [wrapper, ...warnings] : warnings);
    }
  });

  it.each<[string, unknown, string]>([
    [
      "vt-cli's output for a URL",
      { _id: "aHR0cHM6Ly9leGFtcGxlLmNvbS8", _type: "url", url: "https://example.com/" },
      "the input is vt-cli's output for a VirusTotal `url` object, not a file object: run `vt file <hash> --format json`",
    ],
    [
      "a failed Cortex job",
      {
        success: false,
        input: { dataType: "hash", data: PE.id },
        errorMessage: "Missing VirusTotal API key",
      },
      "the input is a failed Cortex analyzer job, not a file report: `Missing VirusTotal API key`",
    ],
    [
      "a Cortex report of a hash VirusTotal does not know",
      cortex({ message: "Report not found." }),
      "the input is a Cortex analyzer report without a VirusTotal file object: `Report not found.`",
    ],
    [
      "a Cortex report of the v2 analyzer",
      cortex({ response_code: 1, positives: 0, total: 70, scans: {}, sha256: PE.id }),
      "the input is a Cortex analyzer report holding a VirusTotal API v2 report (`full.response_code`, `full.scans`), not a v3 file object: get the file's report from the v3 API (`/api/v3/files/{id}`)",
    ],
    [
      "a Cortex report of a scan (an analysis object)",
      cortex({
        type: "analysis",
        id: "NjY0MjRlOTFjMDIyYTkyNWM0NjU2NWQzYWNlMzFmZmM6MTcwMzM4NzA0Mg==",
        attributes: { stats: {}, results: {} },
      }),
      "the input is a Cortex analyzer report on a VirusTotal `analysis` object, not a file object",
    ],
    [
      "a Cortex report whose `full` is something else",
      cortex({ message: 3 }),
      "the input is a Cortex analyzer report whose `full` holds no VirusTotal file object (`type`, `id`, `attributes`)",
    ],
    [
      "a VirusTotal API v2 report",
      {
        response_code: 1,
        verbose_msg: "Scan finished",
        sha256: PE.id,
        positives: 0,
        total: 70,
        scans: {},
      },
      "the input is a VirusTotal API v2 file report (`response_code`, `scans`), not a v3 file object: get the file's report from the v3 API (`/api/v3/files/{id}`)",
    ],
    [
      "a VirusTotal URL object",
      {
        data: {
          type: "url",
          id: "aHR0cHM6Ly9leGFtcGxlLmNvbS8",
          attributes: { last_analysis_stats: {} },
        },
      },
      "the input is a VirusTotal `url` object, not a file object",
    ],
    [
      "vt-py's dict of an analysis",
      { type: "analysis", id: "x", attributes: { stats: {} } },
      "the input is a VirusTotal `analysis` object, not a file object",
    ],
    [
      "vt-cli's whole output (a JSON array)",
      [vtCli(PE), vtCli(PS1)],
      "the input is a list of 2 items (a JSON array), not one file report: decide each `[i]` on its own",
    ],
  ])("refuses %s, saying what it is", (_name, input, message) => {
    for (const format of [undefined, "virustotal"] as const) {
      const outcome = toCanonical(input, format ? { format } : undefined);
      expect(outcome.ok ? [] : outcome.problems).toEqual([{ pointer: "", message }]);
    }
  });

  it("points the problems of a wrapped file object into the wrapper", () => {
    const outcome = toCanonical(cortex({ type: "file", id: "nope", attributes: {} }));
    expect(outcome.ok ? [] : outcome.problems).toEqual([
      {
        pointer: "/full/attributes/sha256",
        message: "no SHA-256 found: expected 64 hexadecimal digits in `attributes.sha256` or `id`",
      },
    ]);
  });

  it("looks inside no wrapper when the input is declared canonical", () => {
    // `canonical` forces that reading: the top-level fields are read as a canonical result's
    const outcome = toCanonical(vtCli(PE), { format: "canonical" });
    expect(outcome.format).toBe("canonical");
    expect(outcome.warnings ?? []).not.toContain(VT_CLI_WARNING);
  });
});

describe("toCanonicalItems", () => {
  const pe = direct(PE).result;
  const ps1 = direct(PS1).result;
  const url = {
    type: "url",
    id: "aHR0cHM6Ly9leGFtcGxlLmNvbS8",
    attributes: { url: "https://example.com/" },
  };

  type Expected = { at: string; pointer: string; sha256?: string; problem?: string };
  it.each<[string, unknown, InputFormat | undefined, string, Expected[]]>([
    [
      "a search answer (files and a URL)",
      { data: [PE, PS1, url], meta: { cursor: "CsMBC", total_hits: 3 }, links: { self: "x" } },
      undefined,
      "a VirusTotal search or collection answer",
      [
        { at: "data[0]", pointer: "/data/0", sha256: pe.sha256 },
        { at: "data[1]", pointer: "/data/1", sha256: ps1.sha256 },
        {
          at: "data[2]",
          pointer: "/data/2",
          problem: "`data[2]` is a VirusTotal `url` object, not a file object",
        },
      ],
    ],
    [
      "vt-cli's output",
      [vtCli(PE), vtCli(PS1), { _id: "aHR0cHM6Ly9leGFtcGxlLmNvbS8", _type: "url" }],
      "virustotal",
      "vt-cli's output",
      [
        { at: "[0]", pointer: "/0", sha256: pe.sha256 },
        { at: "[1]", pointer: "/1", sha256: ps1.sha256 },
        {
          at: "[2]",
          pointer: "/2",
          problem: "`[2]` is a VirusTotal `url` object, not a file object",
        },
      ],
    ],
    [
      "a JSON array of file objects and a number",
      [{ data: PE }, 7],
      undefined,
      "a JSON array",
      [
        { at: "[0]", pointer: "/0", sha256: pe.sha256 },
        { at: "[1]", pointer: "/1", problem: "must be an object, got the number `7`" },
      ],
    ],
    [
      "a list inside a list",
      { data: [[PE]] },
      undefined,
      "a VirusTotal search or collection answer",
      [
        {
          at: "data[0]",
          pointer: "/data/0",
          problem:
            "the input is a list of 1 item (a JSON array), not one file report: decide each `[i]` on its own",
        },
      ],
    ],
    [
      "an empty search answer",
      { data: [], meta: {} },
      undefined,
      "a VirusTotal search or collection answer",
      [],
    ],
  ])("decides each item of %s", (_name, input, format, what, expected) => {
    const got = toCanonicalItems(input, format ? { format } : undefined);
    if (!got.list) throw new Error("expected a list");
    expect(got.what).toBe(what);
    expect(
      got.items.map(({ at, pointer, outcome }) =>
        outcome.ok
          ? { at, pointer, sha256: outcome.result.sha256 }
          : { at, pointer, problem: outcome.problems.map((p) => p.message).join("; ") },
      ),
    ).toEqual(expected);
  });

  it("passes the declared format to every item", () => {
    const got = toCanonicalItems({ data: [PE] }, { format: "platform" });
    if (!got.list) throw new Error("expected a list");
    expect(got.items[0]!.outcome.ok).toBe(false);
  });

  it("checks its options whatever the input", () => {
    expect(() => toCanonicalItems({ data: [] }, { format: "csv" as InputFormat })).toThrow(
      "unknown input format `csv`",
    );
    expect(() => toCanonicalItems([], { limits: { maxDeep: 3 } as object })).toThrow(TypeError);
  });

  it("reads one object as toCanonical does", () => {
    expect(toCanonicalItems({ data: PE })).toEqual({
      list: false,
      outcome: toCanonical({ data: PE }),
    });
  });
});
