import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { historyLines } from "@clearance/testdata";
import { describe, expect, it } from "vitest";
import { SOURCE_ERROR_CODES, SourceError } from "../src/errors.js";
import {
  DEFAULT_SOURCE_OPTIONS,
  listDirectory,
  openSource,
  openSources,
  STDIN,
} from "../src/sources.js";
import {
  type Brief,
  brief,
  collect,
  readSource,
  readSources,
  scratchDir,
  writeTree,
} from "./source-helpers.js";

const dir = scratchDir();
let counter = 0;
/** Writes `content` to a fresh file called `name` and returns its path. */
function file(name: string, content: string | Buffer): string {
  const sub = join(dir, `case-${counter++}`);
  writeTree(sub, { [name]: content });
  return join(sub, name);
}

/** Expects reading to fail with a `SourceError` of `code` whose message names `source`. */
async function expectSourceError(
  read: Promise<unknown>,
  code: keyof typeof SOURCE_ERROR_CODES,
  source: string,
): Promise<SourceError> {
  const error = await read.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SourceError);
  const sourceError = error as SourceError;
  expect(sourceError.code).toBe(code);
  expect(sourceError.source).toBe(source);
  expect(sourceError.message).toContain(source);
  return sourceError;
}

const A = '{"a":1}';
const B = '{"b":[1,2,{"c":"]"}]}';

describe("NDJSON", () => {
  const cases: [string, string, string, Brief[]][] = [
    [
      "two lines",
      "a.ndjson",
      `${A}\n${B}\n`,
      [
        [1, A],
        [2, B],
      ],
    ],
    [
      "no final newline",
      "a.ndjson",
      `${A}\n${B}`,
      [
        [1, A],
        [2, B],
      ],
    ],
    [
      "blank lines are skipped but counted",
      "a.ndjson",
      `\n${A}\n\n  \t\n${B}\n\n`,
      [
        [2, A],
        [5, B],
      ],
    ],
    [
      "CRLF line endings",
      "a.ndjson",
      `${A}\r\n${B}\r\n`,
      [
        [1, A],
        [2, B],
      ],
    ],
    ["a lone CR is not a line break", "a.ndjson", `${A}\r${B}\n`, [[1, `${A}\r${B}`]]],
    [
      "a byte-order mark",
      "a.ndjson",
      `\ufeff${A}\n${B}\n`,
      [
        [1, A],
        [2, B],
      ],
    ],
    [
      "a byte-order mark, CRLF and blank lines",
      "a.jsonl",
      `\ufeff\r\n${A}\r\n\r\n${B}`,
      [
        [2, A],
        [4, B],
      ],
    ],
    ["`.jsonl`", "a.jsonl", `${A}\n`, [[1, A]]],
    [
      "any other name is NDJSON",
      "history.txt",
      `${A}\n${B}\n`,
      [
        [1, A],
        [2, B],
      ],
    ],
    [
      "a malformed line stays a line",
      "a.ndjson",
      `${A}\n{"a":\n${B}\n`,
      [
        [1, A],
        [2, '{"a":'],
        [3, B],
      ],
    ],
    ["white space around a record is kept", "a.ndjson", `  ${A}  \n`, [[1, `  ${A}  `]]],
    ["an empty file", "a.ndjson", "", []],
    ["only white space", "a.ndjson", " \n\n\t\r\n", []],
    ["multi-byte characters", "a.ndjson", '{"n":"日本語 ✓ 🙂"}\n', [[1, '{"n":"日本語 ✓ 🙂"}']]],
  ];
  it.each(cases)("%s", async (_name, name, content, expected) => {
    const records = await readSource(file(name, content));
    expect(brief(records)).toEqual(expected);
    expect(records.every((r) => r.unit === "line")).toBe(true);
  });

  it("names the file in every record", async () => {
    const path = file("a.ndjson", `${A}\n${B}\n`);
    const records = await readSource(path);
    expect(records.map((r) => r.source)).toEqual([path, path]);
  });

  it("splits correctly whatever the chunk boundaries", async () => {
    const lines = [...historyLines(40, 3)];
    const content = `${lines.join("\r\n")}\n\n${"é".repeat(3000)}\n`;
    for (const chunkBytes of [1024, 1031, 4096, 65_536]) {
      const records = await readSource(file("h.ndjson", content), { chunkBytes });
      expect(records.map((r) => r.text)).toEqual([...lines, "é".repeat(3000)]);
      expect(records.at(-1)!.line).toBe(42);
    }
  });
});

describe("record size limit", () => {
  const long = `{"k":"${"x".repeat(30)}"}`; // 38 bytes
  const cases: [string, string, string, Brief[]][] = [
    [
      "an NDJSON line",
      "a.ndjson",
      `${A}\n${long}\n${B}\n`,
      [
        [1, A],
        [2, "", "line is 38 bytes, over the limit of 30 bytes"],
        [3, B],
      ],
    ],
    [
      "the last line, without a newline",
      "a.ndjson",
      `${A}\n${long}`,
      [
        [1, A],
        [2, "", "line is 38 bytes, over the limit of 30 bytes"],
      ],
    ],
    ["a CR does not count", "a.ndjson", `${"1".repeat(30)}\r\n`, [[1, "1".repeat(30)]]],
    [
      "an array element",
      "a.json",
      `[${A}, ${long}, ${B}]`,
      [
        [0, A],
        [1, "", "array element is 38 bytes, over the limit of 30 bytes"],
        [2, B],
      ],
    ],
    [
      "a JSON document",
      "a.json",
      `${long}\n${A}`,
      [
        [1, "", "JSON value is 38 bytes, over the limit of 30 bytes"],
        [2, A],
      ],
    ],
  ];
  it.each(cases)("%s", async (_name, name, content, expected) => {
    expect(brief(await readSource(file(name, content), { maxRecordBytes: 30 }))).toEqual(expected);
  });

  it("drops a long record spread over many chunks, and goes on", async () => {
    const huge = `{"k":"${"y".repeat(200_000)}"}`;
    for (const name of ["a.ndjson", "a.json"]) {
      const content = name === "a.ndjson" ? `${huge}\n${A}\n` : `[${huge},${A}]`;
      const records = await readSource(file(name, content), {
        maxRecordBytes: 4096,
        chunkBytes: 1024,
      });
      expect(records.map((r) => [r.text, r.error !== undefined])).toEqual([
        ["", true],
        [A, false],
      ]);
      expect(records[0]!.error).toContain(`is ${huge.length} bytes`);
    }
  });

  it("defaults to 1 MiB", async () => {
    expect(DEFAULT_SOURCE_OPTIONS.maxRecordBytes).toBe(1_048_576);
    const big = `{"k":"${"z".repeat(1_048_576)}"}`;
    const records = await readSource(file("big.ndjson", `${big}\n${A}\n`));
    expect(records[0]!.error).toBe(`line is ${big.length} bytes, over the limit of 1048576 bytes`);
    expect(records[1]!.text).toBe(A);
  });

  it.each([
    [{ maxRecordBytes: 0 }, "`maxRecordBytes` must be an integer from 1 to 268435456, got `0`"],
    [{ maxRecordBytes: 1.5 }, "`maxRecordBytes` must be an integer from 1 to 268435456"],
    [{ maxRecordBytes: "1" }, "`maxRecordBytes` must be an integer"],
    [{ chunkBytes: 10 }, "`chunkBytes` must be an integer from 1024"],
    [{ maxLineBytes: 10 }, "unknown source option `maxLineBytes`"],
    [{ stdin: "input.ndjson" }, "`stdin` must be a readable stream"],
  ])("rejects options %o at once", (options, message) => {
    const path = file("a.ndjson", A);
    // biome-ignore lint/suspicious/noExplicitAny: invalid options on purpose
    const bad = options as any;
    expect(() => openSource(path, bad)).toThrow(TypeError);
    expect(() => openSource(path, bad)).toThrow(message);
    expect(() => openSources([path], bad)).toThrow(message);
  });
});

describe("JSON arrays", () => {
  const tricky = [
    '{"s":"a,b]}{[","n":[[1,[2]],{}]}',
    '"\\"],"',
    '{"esc":"\\\\","t":"\\\\\\"]"}',
    '{"u":"\\u005d\\u0022"}',
    "[]",
    "-1.5e+3",
    "null",
  ];
  const cases: [string, string, string, Brief[]][] = [
    [
      "elements",
      "a.json",
      `[${A},${B}]`,
      [
        [0, A],
        [1, B],
      ],
    ],
    [
      "nested arrays, brackets and escapes in strings",
      "a.json",
      `[${tricky.join(",")}]`,
      tricky.map((t, i) => [i, t]),
    ],
    [
      "pretty-printed",
      "a.json",
      `[\n  ${A},\n  ${B}\n]\n`,
      [
        [0, `${A}`],
        [1, `${B}\n`],
      ],
    ],
    ["an empty array", "a.json", "[]", []],
    ["an empty array with spaces", "a.json", " [ \n ] \n", []],
    ["a byte-order mark", "a.json", `\ufeff[${A}]`, [[0, A]]],
    ["an `.ndjson` name holding an array", "a.ndjson", `\n [${A}]`, [[0, A]]],
    ["any name holding an array", "export.txt", `[${A}]`, [[0, A]]],
    [
      "a doubled comma",
      "a.json",
      `[${A},,${B}]`,
      [
        [0, A],
        [1, "", "empty array element (a doubled or trailing `,`)"],
        [2, B],
      ],
    ],
    [
      "a trailing comma",
      "a.json",
      `[${A},]`,
      [
        [0, A],
        [1, "", "empty array element (a doubled or trailing `,`)"],
      ],
    ],
    [
      "an unclosed array",
      "a.json",
      `[${A},${B}`,
      [
        [0, A],
        [1, B, "unexpected end of input: the array is not closed"],
      ],
    ],
    [
      "an unclosed array after a comma",
      "a.json",
      `[${A},`,
      [
        [0, A],
        [1, "", "unexpected end of input: the array is not closed"],
      ],
    ],
    [
      "an unclosed string",
      "a.json",
      `[${A},"abc]`,
      [
        [0, A],
        [1, '"abc]', "unexpected end of input: the array is not closed"],
      ],
    ],
    [
      "content after the array",
      "a.json",
      `[${A}] ${B}`,
      [
        [0, A],
        [1, "", "unexpected content after the end of the array"],
      ],
    ],
    [
      "a malformed element stays one element",
      "a.json",
      `[{"a":}, ${B}]`,
      [
        [0, '{"a":}'],
        [1, B],
      ],
    ],
  ];
  it.each(cases)("%s", async (_name, name, content, expected) => {
    const records = await readSource(file(name, content));
    expect(brief(records)).toEqual(expected);
    expect(records.every((r) => r.unit === "index")).toBe(true);
  });
});

describe("JSON documents (`.json` not holding an array)", () => {
  const pretty = JSON.stringify(JSON.parse(B), null, 2);
  const cases: [string, string, Brief[]][] = [
    ["one pretty-printed document", pretty, [[1, pretty]]],
    ["after blank lines", `\n\n${pretty}\n`, [[3, pretty]]],
    [
      "several documents",
      `${A}\n${pretty}\n\n${A}`,
      [
        [1, A],
        [2, pretty],
        [12, A],
      ],
    ],
    [
      "documents with nothing between them",
      `${A}${A}`,
      [
        [1, A],
        [1, A],
      ],
    ],
    ["a scalar", "42\n", [[1, "42"]]],
    ["a top-level string", '"x{"', [[1, '"x{"']]],
    [
      "a truncated document",
      `${A}\n{"a": [1,`,
      [
        [1, A],
        [2, '{"a": [1,', "unexpected end of input: an object or array is not closed"],
      ],
    ],
    [
      "a truncated string",
      '{"a": "b',
      [[1, '{"a": "b', "unexpected end of input inside a string"]],
    ],
  ];
  it.each(cases)("%s", async (_name, content, expected) => {
    const records = await readSource(file("doc.json", content));
    expect(brief(records)).toEqual(expected);
    expect(records.every((r) => r.unit === "line")).toBe(true);
  });
});

describe("gzip", () => {
  const lines = [...historyLines(30, 11)];
  const ndjson = `${lines.join("\n")}\n`;

  it.each([
    ["NDJSON", "h.ndjson.gz", ndjson],
    ["a `.gz` name alone", "h.gz", ndjson],
    ["a JSON array", "h.json.gz", `[${lines.join(",\n")}]`],
    ["detected by magic bytes, whatever the name", "h.bin", ndjson],
  ])("%s", async (_name, name, content) => {
    const records = await readSource(file(name, gzipSync(content)));
    expect(records.map((r) => r.text)).toEqual(lines);
  });

  it("reads every member of a multi-member file", async () => {
    const content = Buffer.concat([
      gzipSync(`${lines.slice(0, 10).join("\n")}\n`),
      gzipSync(`${lines.slice(10).join("\n")}\n`),
    ]);
    const records = await readSource(file("h.ndjson.gz", content), { chunkBytes: 1024 });
    expect(records.map((r) => r.text)).toEqual(lines);
    expect(records.at(-1)!.line).toBe(30);
  });

  it("rejects a truncated file, naming it, never a short count", async () => {
    const whole = gzipSync(ndjson);
    for (const cut of [whole.length >> 1, whole.length - 4, 12]) {
      const path = file("cut.ndjson.gz", whole.subarray(0, cut));
      const error = await expectSourceError(readSource(path), "gzip_truncated", path);
      expect(error.message).toBe(`\`${path}\` is truncated: the gzip stream ends early`);
    }
  });

  it("rejects corrupt data", async () => {
    const whole = Buffer.from(gzipSync(ndjson));
    for (let k = 200; k < 260; k++) whole[k] = whole[k]! ^ 0x5a;
    const path = file("bad.ndjson.gz", whole);
    await expectSourceError(readSource(path), "gzip_corrupt", path);
  });

  it("rejects a `.gz` name holding plain text", async () => {
    const path = file("plain.ndjson.gz", ndjson);
    const error = await expectSourceError(readSource(path), "gzip_corrupt", path);
    expect(error.message).toBe(`\`${path}\` is not gzip data`);
  });
});

describe("directories", () => {
  const root = writeTree(join(dir, "tree"), {
    "b/2.ndjson": `${A}\n{"from":"b/2"}\n`,
    "a.json": JSON.stringify({ from: "a" }, null, 2),
    "c/d/3.jsonl.gz": gzipSync('{"from":"c/d/3"}\n'),
    "c/array.json": '[{"from":"c/array"}]',
    "Z.ndjson": '{"from":"Z"}\n',
    "notes.txt": "not a record file\n",
    ".hidden.json": '{"from":"hidden"}',
    ".git/x.json": '{"from":"git"}',
    "c/e.JSON": '{"from":"c/e"}',
  });

  it("reads every record file under it, recursively, sorted by path", async () => {
    const files = await listDirectory(root);
    expect(files.map((f) => f.slice(root.length + 1))).toEqual([
      "Z.ndjson",
      "a.json",
      "b/2.ndjson",
      "c/array.json",
      "c/d/3.jsonl.gz",
      "c/e.JSON",
    ]);
    const records = await readSource(root);
    expect(records.map((r) => [r.source.slice(root.length + 1), r.line, r.text])).toEqual([
      ["Z.ndjson", 1, '{"from":"Z"}'],
      ["a.json", 1, JSON.stringify({ from: "a" }, null, 2)],
      ["b/2.ndjson", 1, A],
      ["b/2.ndjson", 2, '{"from":"b/2"}'],
      ["c/array.json", 0, '{"from":"c/array"}'],
      ["c/d/3.jsonl.gz", 1, '{"from":"c/d/3"}'],
      ["c/e.JSON", 1, '{"from":"c/e"}'],
    ]);
  });

  it("rejects a directory with no record file", async () => {
    const empty = writeTree(join(dir, "empty"), { "readme.txt": "nothing here" });
    const error = await expectSourceError(readSource(empty), "source_empty_directory", empty);
    expect(error.message).toBe(
      `directory \`${empty}\` holds no \`.json\`, \`.ndjson\`, \`.jsonl\` or \`.gz\` file`,
    );
  });
});

describe("standard input", () => {
  const stdin = (...chunks: (string | Buffer)[]) => Readable.from(chunks, { objectMode: false });

  it.each([
    [
      "NDJSON",
      [`${A}\n`, `${B}\n`],
      [
        [1, A],
        [2, B],
      ],
      "line",
    ],
    [
      "NDJSON in odd chunks",
      ['{"a"', ":1}\r", `\n\n${B}`],
      [
        [1, A],
        [3, B],
      ],
      "line",
    ],
    [
      "a JSON array",
      ["  [", `${A},`, `${B}]`],
      [
        [0, A],
        [1, B],
      ],
      "index",
    ],
    [
      "gzip",
      [gzipSync(`${A}\n${B}\n`)],
      [
        [1, A],
        [2, B],
      ],
      "line",
    ],
    ["a byte-order mark", ["\ufeff", `${A}\n`], [[1, A]], "line"],
    ["nothing", [], [], "line"],
  ] as [string, (string | Buffer)[], Brief[], string][])(
    "%s",
    async (_name, chunks, expected, unit) => {
      const records = await readSource("-", { stdin: stdin(...chunks) });
      expect(brief(records)).toEqual(expected);
      expect(records.every((r) => r.source === STDIN && r.unit === unit)).toBe(true);
    },
  );

  it("is read once", () => {
    expect(() => openSources(["-", "x.ndjson", "-"], { stdin: stdin(A) })).toThrow(
      expect.objectContaining({
        code: "source_stdin_twice",
        message: "standard input (`-`) is given twice",
      }),
    );
  });
});

describe("several sources", () => {
  it("are read one after another", async () => {
    const first = file("1.ndjson", `${A}\n`);
    const second = file("2.json", `[${B}]`);
    const records = await readSources([first, "-", second], {
      stdin: Readable.from([`{"in":1}\n`]),
    });
    expect(records.map((r) => [r.source, r.line, r.text])).toEqual([
      [first, 1, A],
      [STDIN, 1, '{"in":1}'],
      [second, 0, B],
    ]);
  });

  it("stop at an unreadable one, after the records before it", async () => {
    const first = file("1.ndjson", `${A}\n`);
    const missing = join(dir, "no-such-file.ndjson");
    const seen: string[] = [];
    const error = await (async () => {
      for await (const record of openSources([first, missing])) seen.push(record.text);
    })().then(
      () => undefined,
      (e: unknown) => e as SourceError,
    );
    expect(seen).toEqual([A]);
    expect(error?.code).toBe("source_not_found");
    expect(error?.message).toBe(`cannot read \`${missing}\`: no such file or directory`);
  });
});

describe("unreadable sources", () => {
  it("a missing path", async () => {
    const missing = join(dir, "missing", "history.ndjson");
    await expectSourceError(readSource(missing), "source_not_found", missing);
  });

  it("a path through a file", async () => {
    const through = join(file("plain.ndjson", A), "inside.ndjson");
    const error = await expectSourceError(readSource(through), "source_unreadable", through);
    expect(error.message).toMatch(/^cannot read `.*inside\.ndjson`: /);
  });

  it("a stream that fails mid-way", async () => {
    async function* failing() {
      yield Buffer.from(`${A}\n`);
      throw Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" });
    }
    const seen: string[] = [];
    const error = await (async () => {
      for await (const r of openSources(["-"], { stdin: Readable.from(failing()) })) {
        seen.push(r.text);
      }
    })().then(
      () => undefined,
      (e: unknown) => e as SourceError,
    );
    expect(seen).toEqual([A]);
    expect(error?.code).toBe("source_unreadable");
    expect(error?.message).toBe("cannot read `<stdin>`: EIO: i/o error, read");
  });
});

it("stops reading when the consumer stops", async () => {
  const path = file("many.ndjson", `${[...historyLines(500, 5)].join("\n")}\n`);
  const records = openSources([path], { chunkBytes: 1024 });
  let n = 0;
  for await (const _ of records) if (++n === 3) break;
  expect(n).toBe(3);
  // The generator is finished: nothing more comes out.
  expect(await collect(records)).toEqual([]);
});

it("registers every error code with a description", () => {
  for (const [code, description] of Object.entries(SOURCE_ERROR_CODES)) {
    expect(code).toMatch(/^[a-z]+(_[a-z]+)+$/);
    expect(description).not.toMatch(/\.$/);
  }
});

it("docs/dry-run.md lists every source error code, and only those", () => {
  const docs = readFileSync(new URL("../../../docs/dry-run.md", import.meta.url), "utf8");
  // Only the Sources section: other tables (the JSON report's fields) use the same row shape.
  const section = docs.slice(
    docs.indexOf("## Sources"),
    docs.indexOf("\n## ", docs.indexOf("## Sources") + 1),
  );
  const listed = [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  expect(listed.sort()).toEqual(Object.keys(SOURCE_ERROR_CODES).sort());
});
