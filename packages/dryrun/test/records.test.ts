import { join } from "node:path";
import { generateRecords, historyLines } from "@clearance/testdata";
import { describe, expect, it } from "vitest";
import { SourceError } from "../src/errors.js";
import {
  type ParsedRecord,
  parseRecord,
  type RawRecord,
  recordLocation,
  Tally,
} from "../src/records.js";
import { openSources } from "../src/sources.js";
import { scratchDir, writeTree } from "./source-helpers.js";

const SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const raw = (text: string, extra: Partial<RawRecord> = {}): RawRecord => ({
  source: "h.ndjson",
  line: 7,
  unit: "line",
  text,
  ...extra,
});

describe("parseRecord", () => {
  it("a canonical result is valid", () => {
    const parsed = parseRecord(raw(JSON.stringify({ sha256: SHA.toUpperCase(), trustScore: 91 })));
    expect(parsed).toEqual({
      kind: "valid",
      result: { sha256: SHA, trustScore: 91 },
      format: "canonical",
      warnings: [],
    });
  });

  it("a VirusTotal file object is valid, with its warnings", () => {
    const object = { data: { id: SHA, type: "file", attributes: { size: "12" } } };
    const parsed = parseRecord(raw(JSON.stringify(object)));
    expect(parsed).toEqual({
      kind: "valid",
      result: { sha256: SHA, fileSize: 12 },
      format: "virustotal",
      warnings: ["read `data.attributes.size` from a string"],
    });
  });

  it("a forced format is used", () => {
    const parsed = parseRecord(raw(JSON.stringify({ sha256: SHA })), { format: "virustotal" });
    expect(parsed).toMatchObject({ kind: "valid", format: "virustotal" });
  });

  it.each([
    [
      "a request as received, its `format` forcing the format",
      { format: "virustotal" },
      "virustotal",
    ],
    ["a request as received, format detected", {}, "canonical"],
    ["`{result, context}` in canonical form", {}, "canonical"],
  ])("an audit export line replays its input snapshot: %s", (_what, extra, format) => {
    const line = {
      id: "0193c5f0-0000-7000-8000-000000000000",
      chain: "main",
      seq: 4,
      hash: "ab".repeat(32),
      decision: "deny",
      input: { result: { sha256: SHA }, context: { group: "finance" }, explain: true, ...extra },
    };
    expect(parseRecord(raw(JSON.stringify(line)))).toMatchObject({
      kind: "valid",
      result: { sha256: SHA },
      format,
      context: { group: "finance" },
    });
  });

  it("a snapshot stored before snapshots said their format replays as canonical when detection fails", () => {
    // a canonical result with a snake_case extra key: detection cannot tell its format
    const line = {
      chain: "main",
      seq: 1,
      hash: "ab".repeat(32),
      input: { result: { sha256: SHA, trust_score: 3 } },
    };
    expect(parseRecord(raw(JSON.stringify(line)))).toMatchObject({
      kind: "valid",
      format: "canonical",
    });
  });

  it("JSON that is not a result is invalid, with JSON Pointer problems", () => {
    const parsed = parseRecord(raw('{"sha256":"abc","trustScore":101}'));
    expect(parsed.kind).toBe("invalid");
    expect((parsed as ParsedRecord & { kind: "invalid" }).problems).toEqual([
      { pointer: "/sha256", message: "must be 64 hexadecimal digits, got `abc`" },
      { pointer: "/trustScore", message: "must be at most 100, got `101`" },
    ]);
  });

  it.each([
    [
      "a VirusTotal search answer",
      '{"data":[{"type":"file","id":"x","attributes":{}},{"type":"url","id":"y","attributes":{}}],"meta":{}}',
      "the record is a list of 2 items (a VirusTotal search or collection answer), not one result: write one item per line, for example with `jq -c '.data[]'`",
    ],
    [
      "vt-cli's output in an array element",
      '[{"_id":"x","_type":"file"}]',
      "the record is a list of 1 item (vt-cli's output), not one result: write one item per line, for example with `jq -c '.[]'`",
    ],
    [
      "a JSON array in an array element",
      "[]",
      "the record is a list of 0 items (a JSON array), not one result: write one item per line, for example with `jq -c '.[]'`",
    ],
  ])("a record that is a list (%s) is invalid, saying how to split it", (_name, text, message) => {
    expect(parseRecord(raw(text))).toEqual({
      kind: "invalid",
      problems: [{ pointer: "", message }],
    });
  });

  it.each([
    [raw('{"sha256":}'), "malformed JSON at column 11: expected a value, got `}`"],
    [
      raw('{"sha256":"'),
      'malformed JSON at column 12: unexpected end of input: expected a closing `"`',
    ],
    [raw(""), "malformed JSON at column 1: unexpected end of input: expected a value"],
    [
      raw('{\n  "a": 1\n  "b": 2\n}'),
      'malformed JSON at line 9, column 3: expected `,` or `}`, got `"`',
    ],
    [
      raw('{\n "a": x}', { unit: "index", line: 3 }),
      "malformed JSON at line 2 of the element, column 7: expected a value, got `x`",
    ],
    [
      raw("", { error: "line is 9 bytes, over the limit of 8 bytes" }),
      "line is 9 bytes, over the limit of 8 bytes",
    ],
  ])("malformed: %j", (record, message) => {
    expect(parseRecord(record)).toEqual({ kind: "malformed", message });
  });

  it("strict mode throws at a malformed record, naming file and line", () => {
    const call = () => parseRecord(raw("{oops"), { strict: true });
    expect(call).toThrow(SourceError);
    expect(call).toThrow(
      "h.ndjson:7: malformed JSON at column 2: expected a double-quoted property name, got `o`",
    );
    expect(call).toThrow(expect.objectContaining({ code: "strict_malformed", line: 7 }));
  });

  it("strict mode throws at an invalid record, with its problems", () => {
    const call = () => parseRecord(raw("[1]", { unit: "index", line: 4 }), { strict: true });
    expect(call).toThrow(expect.objectContaining({ code: "strict_invalid", source: "h.ndjson" }));
    expect(call).toThrow(/^h\.ndjson\[4\]: not a valid analysis result: \/: /);
  });

  it("strict mode returns valid records", () => {
    expect(parseRecord(raw(JSON.stringify({ sha256: SHA })), { strict: true }).kind).toBe("valid");
  });

  it.each([
    [{ strict: "yes" }, "parse option `strict` must be a boolean, got `yes`"],
    [{ formats: "canonical" }, "unknown parse option `formats`"],
    [{ format: "vt" }, "unknown input format `vt`"],
    [{ limits: { maxDepth: -1 } }, "input limit `maxDepth` must be a non-negative integer"],
  ])("rejects options %o", (options, message) => {
    // biome-ignore lint/suspicious/noExplicitAny: invalid options on purpose
    expect(() => parseRecord(raw("{"), options as any)).toThrow(message);
  });

  it("applies input limits", () => {
    const parsed = parseRecord(raw(JSON.stringify({ sha256: SHA, tags: ["a", "b", "c"] })), {
      limits: { maxArrayLength: 2 },
    });
    expect(parsed.kind).toBe("invalid");
  });
});

it("recordLocation names a line or an element", () => {
  expect(recordLocation(raw("x"))).toBe("h.ndjson:7");
  expect(recordLocation(raw("x", { unit: "index" }))).toBe("h.ndjson[7]");
});

describe("Tally", () => {
  it("counts and checks that the totals add up", () => {
    const tally = new Tally();
    tally.countRead(3);
    tally.count("valid");
    tally.count({ kind: "malformed", message: "x" });
    expect(tally.balanced).toBe(false);
    expect(() => tally.assertBalanced()).toThrow(
      "totals do not add up: 3 read, but 1 valid + 0 invalid + 1 malformed = 2",
    );
    tally.count("invalid");
    expect(tally.balanced).toBe(true);
    tally.assertBalanced();
    expect(tally.totals).toEqual({ read: 3, valid: 1, invalid: 1, malformed: 1 });
    expect(JSON.parse(JSON.stringify(tally))).toEqual(tally.totals);
  });

  it("merges other totals", () => {
    const tally = new Tally();
    tally.add({ read: 5, valid: 3, invalid: 1, malformed: 1 });
    tally.add({ read: 1, valid: 1, invalid: 0, malformed: 0 });
    expect(tally.totals).toEqual({ read: 6, valid: 4, invalid: 1, malformed: 1 });
    expect(tally.balanced).toBe(true);
  });

  it("rejects an unknown kind", () => {
    // biome-ignore lint/suspicious/noExplicitAny: invalid on purpose
    expect(() => new Tally().count("skipped" as any)).toThrow("unknown record kind `skipped`");
  });
});

describe("a run over bad input", () => {
  const dir = scratchDir();
  const good = [...historyLines(6, 21)];
  const vt = [...historyLines(2, 22, "virustotal")];
  const files = writeTree(dir, {
    "a.ndjson": [
      good[0],
      "",
      '{"sha256": "not a hash"}',
      good[1],
      "{truncated",
      `${good[2]}\r`,
      `{"k":"${"x".repeat(60_000)}"}`,
      "   ",
      vt[0],
    ].join("\n"),
    "b.json": `[${good[3]}, {"a":}, ${vt[1]},, 42]`,
    "c.json": JSON.stringify(JSON.parse(good[4]!), null, 2),
  });
  const specs = ["a.ndjson", "b.json", "c.json"].map((f) => join(files, f));

  it("counts every record once, reports each bad one with file and line, and goes on", async () => {
    const tally = new Tally();
    const bad: string[] = [];
    for await (const record of openSources(specs, { maxRecordBytes: 50_000 })) {
      tally.countRead();
      const parsed = parseRecord(record);
      tally.count(parsed);
      if (parsed.kind === "malformed") bad.push(`${recordLocation(record)}: ${parsed.message}`);
      if (parsed.kind === "invalid") bad.push(`${recordLocation(record)}: invalid`);
    }
    expect(tally.totals).toEqual({ read: 13, valid: 7, invalid: 2, malformed: 4 });
    tally.assertBalanced();
    const [a, b] = specs;
    expect(bad).toEqual([
      `${a}:3: invalid`,
      `${a}:5: malformed JSON at column 2: expected a double-quoted property name, got \`t\``,
      `${a}:7: line is 60008 bytes, over the limit of 50000 bytes`,
      `${b}[1]: malformed JSON at column 6: expected a value, got \`}\``,
      `${b}[3]: empty array element (a doubled or trailing \`,\`)`,
      `${b}[4]: invalid`,
    ]);
  });

  it("stops at the first bad record in strict mode", async () => {
    const tally = new Tally();
    const run = async () => {
      for await (const record of openSources(specs)) {
        tally.countRead();
        tally.count(parseRecord(record, { strict: true }));
      }
    };
    await expect(run()).rejects.toThrow(
      expect.objectContaining({ code: "strict_invalid", source: specs[0], line: 3 }),
    );
    expect(tally.totals).toEqual({ read: 2, valid: 1, invalid: 0, malformed: 0 });
  });
});

it("parses generated records as the generator made them", () => {
  const records = [...generateRecords(50, 99)];
  [...historyLines(50, 99)].forEach((line, k) => {
    const parsed = parseRecord(raw(line));
    expect(parsed.kind).toBe("valid");
    expect((parsed as ParsedRecord & { kind: "valid" }).result).toEqual(records[k]);
  });
});
