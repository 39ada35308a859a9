/**
 * What `eval` and `dry-run` make of lists of VirusTotal file objects, of the wrappers tools put
 * around them, and of inputs over the size limit. The file objects are real reports of the corpus
 * (`examples/virustotal/real/`, PROVENANCE.md); the lists around them are built as VirusTotal's
 * search answers (`{data, meta, links}`) and vt-cli's `--format json` output (`VirusTotal/vt-cli`,
 * `utils/printer.go`: a JSON array of objects with `_id`, `_type` and the attributes) are.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { NOW, root, run } from "./helpers.js";

type Obj = Record<string, unknown>;
const real = (name: string) =>
  (
    JSON.parse(readFileSync(join(root, "examples/virustotal/real", name), "utf8")) as {
      data: { id: string; type: string; attributes: Obj };
    }
  ).data;

const PE = real("pe-exe-dotnet-unsigned.json");
const PS1 = real("script-powershell.json");
const URL_OBJECT = {
  type: "url",
  id: "aHR0cHM6Ly9leGFtcGxlLmNvbS8",
  attributes: { url: "https://example.com/" },
};
const vtCli = (o: typeof PE) => ({ _id: o.id, _type: o.type, ...o.attributes });

let dir: string;
const file = (name: string, value: unknown): string => {
  const path = join(dir, name);
  writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
  return path;
};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "clearance-inputs-"));
});

const evalArgs = (input: string, ...extra: string[]) => [
  "eval",
  "-r",
  join(root, "rules"),
  "-i",
  input,
  "--now",
  NOW,
  ...extra,
];

describe("clearance eval on lists", () => {
  it.each<[string, unknown, number, string[], string[]]>([
    [
      "a search answer of two files",
      { data: [PE, PS1], meta: { cursor: "CsMB" }, links: { self: "x" } },
      0,
      ["data[0]", "data[1]"],
      [],
    ],
    [
      "a search answer with a URL object",
      { data: [PE, URL_OBJECT, PS1] },
      1,
      ["data[0]", "data[2]"],
      ["data[1]"],
    ],
    ["vt-cli's output of one file", [vtCli(PE)], 0, ["[0]"], []],
    ["vt-cli's output of two files", [vtCli(PE), vtCli(PS1)], 0, ["[0]", "[1]"], []],
  ])("decides each item of %s", async (name, input, code, decided, refused) => {
    const path = file(`${name.replace(/\W+/g, "-")}.json`, input);
    const json = await run(...evalArgs(path, "--json"));
    expect(json.code).toBe(code);
    const items = JSON.parse(json.out).items as Obj[];
    expect(items.filter((i) => i.decision !== undefined).map((i) => i.item)).toEqual(decided);
    expect(items.filter((i) => i.error !== undefined).map((i) => i.item)).toEqual(refused);
    // every decided item has the fields of a single answer, the same as deciding it alone
    const alone = JSON.parse(
      (await run(...evalArgs(file("alone.json", { data: PE }), "--json"))).out,
    );
    const first = items[0]!;
    expect(first.sha256).toBe(PE.id);
    const { item: _item, ...rest } = first;
    expect(rest).toEqual(alone);

    const text = await run(...evalArgs(path));
    expect(text.code).toBe(code);
    for (const at of decided) expect(text.out).toContain(`(${at})`);
    expect(text.out).toContain(
      `${items.length} item${items.length === 1 ? "" : "s"} (${Array.isArray(input) ? "vt-cli's output" : "a VirusTotal search or collection answer"}): ${decided.length} decided${refused.length > 0 ? `, ${refused.length} not an analysis result` : ""}`,
    );
    for (const at of refused) {
      expect(text.err).toContain(
        `error: \`${at}\` of input \`${path}\` is not a valid analysis result:`,
      );
      expect(text.err).toContain(`\`${at}\` is a VirusTotal \`url\` object, not a file object`);
    }
  });

  it("gives an item that is no file object an error naming it, pointing into the input", async () => {
    const r = await run(...evalArgs(file("url.json", { data: [PE, URL_OBJECT] }), "--json"));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).items[1]).toEqual({
      item: "data[1]",
      error: {
        code: "invalid_result",
        problems: [
          {
            pointer: "/data/1",
            message: "`data[1]` is a VirusTotal `url` object, not a file object",
          },
        ],
      },
    });
  });

  it("says where each warning comes from", async () => {
    const r = await run(...evalArgs(file("vtcli.json", [vtCli(PE)])));
    expect(r.err).toContain(
      "warning: [0]: read the file object inside vt-cli's output (`_id`, `_type` and the attributes)",
    );
  });

  it("shows each item's canonical record with --show-input", async () => {
    const r = await run(
      ...evalArgs(file("two.json", { data: [PE, PS1] }), "--show-input", "--json"),
    );
    const items = JSON.parse(r.out).items;
    expect(items.map((i: { input: { format: string } }) => i.input.format)).toEqual([
      "virustotal",
      "virustotal",
    ]);
    const text = await run(...evalArgs(file("two.json", { data: [PE, PS1] }), "--show-input"));
    expect(text.out).toContain("input data[1] (read as virustotal):");
  });

  it("refuses an empty list: there is nothing to decide", async () => {
    const path = file("empty.json", { data: [], meta: {} });
    const r = await run(...evalArgs(path));
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `error: input \`${path}\` is an empty list (a VirusTotal search or collection answer): there is no result to decide`,
    );
  });

  it.each<[string, unknown, string]>([
    [
      "a Cortex analyzer report",
      {
        success: true,
        summary: {},
        artifacts: [],
        full: { type: "file", id: PE.id, attributes: PE.attributes },
      },
      "warning: read the VirusTotal file object in `full` of a Cortex analyzer report",
    ],
    ["vt-py's to_dict()", { type: "file", id: PE.id, attributes: PE.attributes }, ""],
  ])("decides the file object in %s, as deciding it bare", async (name, input, warning) => {
    const r = await run(...evalArgs(file(`${name.replace(/\W+/g, "-")}.json`, input), "--json"));
    expect(r.code).toBe(0);
    const alone = JSON.parse(
      (await run(...evalArgs(file("alone.json", { data: PE }), "--json"))).out,
    );
    expect(JSON.parse(r.out)).toEqual(alone);
    if (warning) expect(r.err).toContain(warning);
  });

  it("refuses a wrapper without a file object, naming it", async () => {
    const path = file("cortex-failed.json", {
      success: false,
      input: {},
      errorMessage: "Missing VirusTotal API key",
    });
    const r = await run(...evalArgs(path));
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      "/: the input is a failed Cortex analyzer job, not a file report: `Missing VirusTotal API key`",
    );
  });
});

describe("clearance dry-run and lists, and its input limit", () => {
  const dryArgs = (...extra: string[]) => [
    "dry-run",
    "-r",
    join(root, "rules"),
    "--now",
    NOW,
    "--no-progress",
    ...extra,
  ];

  it("reads vt-cli's output (a JSON array) as one record per file object", async () => {
    const json = join(dir, "vtcli-report.json");
    const r = await run(
      ...dryArgs("--from", file("vtcli-history.json", [vtCli(PE), vtCli(PS1)]), "--report", json),
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(json, "utf8"));
    expect(report.totals).toMatchObject({ read: 2, decided: 2, invalid: 0, malformed: 0 });
  });

  it.each<[string, unknown, string]>([
    [
      "a search answer",
      { data: [PE, PS1], meta: {} },
      "the record is a list of 2 items (a VirusTotal search or collection answer), not one result: write one item per line, for example with `jq -c '.data[]'`",
    ],
  ])(
    "counts %s in one record as an invalid record that says what to do",
    async (name, input, message) => {
      const json = join(dir, `${name.replace(/\W+/g, "-")}-report.json`);
      const source = file(
        `${name.replace(/\W+/g, "-")}.ndjson`,
        typeof input === "string" ? input : `${JSON.stringify(input)}\n`,
      );
      const r = await run(...dryArgs("--from", source, "--report", json));
      expect(r.code).toBe(0);
      const report = JSON.parse(readFileSync(json, "utf8"));
      expect(report.totals).toMatchObject({ read: 1, decided: 0, invalid: 1 });
      expect(JSON.stringify(report)).toContain(JSON.stringify(message).slice(1, -1));
    },
  );

  it("refuses a record over --max-input-bytes as over the limit, and reads it when raised", async () => {
    const result = JSON.parse(readFileSync(join(root, "examples/results/minimal.json"), "utf8"));
    // a real report's size, in many short fields the rules never read (no string over the limit)
    const padding = Object.fromEntries(
      Array.from({ length: 900 }, (_, i) => [`k${i}`, "x".repeat(1300)]),
    );
    const line = JSON.stringify({ ...result, padding });
    const source = file("big.ndjson", `${line}\n`);
    const refused = await run(...dryArgs("--from", source));
    expect(refused.code).toBe(0);
    expect(refused.out).toContain(
      `malformed ${source}:1: line is ${Buffer.byteLength(line)} bytes, over the limit of 1048576 bytes`,
    );
    const raised = await run(...dryArgs("--from", source, "--max-input-bytes", "2000000"));
    expect(raised.out).not.toContain("over the limit");
    expect(raised.out).toMatch(/read 1 = decided 1 \+ invalid 0 \+ malformed 0/);
    const small = await run(...dryArgs("--from", source, "--max-input-bytes", "100"));
    expect(small.out).toContain("over the limit of 100 bytes");
  });

  it.each([
    ["0", "argument '0' is invalid. a whole number of 1 or more"],
    ["1.5", "a whole number of 1 or more"],
    ["268435457", "--max-input-bytes must be at most 268435456, got `268435457`"],
  ])("refuses --max-input-bytes %s", async (value, message) => {
    const r = await run(
      ...dryArgs("--from", file("one.ndjson", "{}\n"), "--max-input-bytes", value),
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain(message);
  });
});
