// The JSON body reader (src/http/json-body.ts): UTF-8, nesting depth and prototype keys checked
// before and while parsing, and large bodies parsed in pieces that yield to the event loop.
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  firstInvalidUtf8,
  type JsonBodyOptions,
  parseJsonBody,
  readJsonBody,
} from "../src/http/json-body.js";
import { ProblemError } from "../src/http/problems.js";

const OPTIONS: JsonBodyOptions = {
  maxDepth: 8,
  pieceBytes: 1_000_000,
  sliceMs: 10,
  names: { maxDepth: "limits.jsonDepth", pieceBytes: "server.bodyLimit" },
};

/** The problem a body is refused with, or the parsed value. */
async function read(
  body: string | Buffer,
  options: Partial<JsonBodyOptions> = {},
): Promise<{ value?: unknown; text?: string; problem?: ProblemError }> {
  try {
    const r = await parseJsonBody(typeof body === "string" ? Buffer.from(body) : body, {
      ...OPTIONS,
      ...options,
    });
    return { value: r.value, ...(r.text === undefined ? {} : { text: r.text }) };
  } catch (error) {
    if (error instanceof ProblemError) return { problem: error };
    throw error;
  }
}

const nest = (depth: number, inner = "1") => `${"[".repeat(depth)}${inner}${"]".repeat(depth)}`;

describe("nesting depth", () => {
  test.each([
    ["arrays at the limit", nest(8), null],
    ["arrays one deeper", nest(9), 8],
    ["objects one deeper", `${'{"a":'.repeat(9)}1${"}".repeat(9)}`, 40],
    ["brackets inside strings do not count", `["${"[".repeat(100)}"]`, null],
    ["escaped quotes do not end a string", `["\\"${"[".repeat(100)}\\\\"]`, null],
    ["an escaped backslash before a quote ends it", `["\\\\",${nest(9)}]`, 13],
  ])("%s", async (_name, body, offset) => {
    const r = await read(body);
    if (offset === null) expect(r.problem).toBeUndefined();
    else {
      expect(r.problem?.code).toBe("json_too_deep");
      expect(r.problem?.detail).toBe(
        `arrays and objects nest more than 8 deep at byte ${offset} (\`limits.jsonDepth\`)`,
      );
    }
  });

  test("a 16 MB body of brackets is refused at its first bytes, without parsing it", async () => {
    const body = Buffer.alloc(16_000_000, "[");
    const started = performance.now();
    const r = await read(body, { pieceBytes: 32_000_000 });
    expect(r.problem?.code).toBe("json_too_deep");
    expect(r.problem?.detail).toContain("at byte 8 ");
    // generous: JSON.parse of this body took seconds
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe("UTF-8", () => {
  test.each([
    ["a lone continuation byte", [0x7b, 0x7d, 0x80], 2],
    ["an overlong `/`", [0x22, 0xc0, 0xaf, 0x22], 1],
    ["an overlong three-byte form", [0x22, 0xe0, 0x80, 0xaf, 0x22], 1],
    ["a surrogate", [0x22, 0xed, 0xa0, 0x80, 0x22], 1],
    ["above U+10FFFF", [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], 1],
    ["a byte never used", [0x22, 0x61, 0xff, 0x22], 2],
    ["a sequence cut short", [0x22, 0xe2, 0x82, 0x22], 1],
    ["a sequence cut by the end", [0x22, 0x61, 0xe2, 0x82], 2],
  ])("%s is refused with its offset", async (_name, bytes, offset) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(offset);
    const r = await read(Buffer.from(bytes));
    expect(r.problem?.code).toBe("invalid_utf8");
    expect(r.problem?.detail).toMatch(new RegExp(`^the body is not UTF-8: byte ${offset} \\(`));
  });

  test("well-formed text of every length is accepted, and the text is the bytes", async () => {
    const body = '{"name":"répertoire-日本-😀.exe","\\u00e9":"é"}';
    const r = await read(body);
    expect(r.problem).toBeUndefined();
    expect(Buffer.from(r.text!)).toEqual(Buffer.from(body));
    expect(r.value).toEqual({ name: "répertoire-日本-😀.exe", é: "é" });
  });

  test("agrees with the platform's own check on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const bad = firstInvalidUtf8(bytes);
        expect(bad === -1).toBe(isStrict(bytes));
        // everything before the offset is well-formed
        if (bad !== -1) expect(isStrict(bytes.subarray(0, bad))).toBe(true);
      }),
    );
  });

  test("a leading byte-order mark is skipped, and offsets still count it", async () => {
    expect((await read("\ufeff[1]")).value).toEqual([1]);
    const r = await read(Buffer.from([0xef, 0xbb, 0xbf, 0x5b, 0xff, 0x5d]));
    expect(r.problem?.detail).toMatch(/^the body is not UTF-8: byte 4 /);
  });
});

function isStrict(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

describe("prototype keys", () => {
  test.each([
    ["at the top", '{"__proto__":{"x":1}}', "/__proto__"],
    ["nested", '{"result":{"a":[0,{"__proto__":1}]}}', "/result/a/1/__proto__"],
    ["written with escapes", '{"r":{"\\u005f_proto__":1}}', "/r/__proto__"],
    [
      "a constructor holding a prototype",
      '{"r":{"constructor":{"prototype":{}}}}',
      "/r/constructor/prototype",
    ],
    ["in a key that needs escaping", '{"a/b~":{"__proto__":1}}', "/a~1b~0/__proto__"],
  ])("%s: refused, with its pointer", async (_name, body, pointer) => {
    const r = await read(body);
    expect(r.problem?.code).toBe("forbidden_key");
    expect(r.problem?.problems).toEqual([{ pointer, message: expect.any(String) }]);
    expect(r.problem?.detail).toContain(`\`${pointer}\``);
  });

  test.each([
    ["`__proto__` as a string value", '{"a":"__proto__","b":"\\"__proto__\\": 1"}'],
    ["a `constructor` key with a plain value", '{"constructor":"x","c":{"constructor":{"p":1}}}'],
  ])("%s is accepted", async (_name, body) => {
    expect((await read(body)).problem).toBeUndefined();
  });

  test("nothing is polluted, also when a large body is parsed in pieces", async () => {
    const items = Array.from({ length: 50 }, () => '{"a":1}').join(",");
    for (const body of [
      `{"items":[${items},{"__proto__":{"polluted":true}}]}`,
      `{"__proto__":{"polluted":true},"items":[${items}]}`,
    ]) {
      const r = await read(body, { pieceBytes: 100 });
      expect(r.problem?.code).toBe("forbidden_key");
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  });
});

describe("a large body is parsed in pieces", () => {
  const small = fc.jsonValue({ maxDepth: 3 }).filter((v) => JSON.stringify(v).length <= 60);
  const body = fc.oneof(
    fc.record({ items: fc.array(small, { minLength: 40, maxLength: 80 }), n: small }),
    fc.array(small, { minLength: 40, maxLength: 80 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.array(small, { maxLength: 30 }), {
      minKeys: 3,
      maxKeys: 6,
    }),
  );

  test("the same value as JSON.parse, whatever the layout", async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom(0, 1, "\t"), async (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        fc.pre(text.length > 1_000 && !/"(__proto__|constructor)"/.test(text));
        const r = await read(text, { pieceBytes: 1_000 });
        expect(r.problem).toBeUndefined();
        expect(r.value).toEqual(JSON.parse(text));
        expect(r.text).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  const pad = Array.from({ length: 300 }, (_, i) => i).join(",");
  test.each([
    ["two commas", `{"items":[${pad},,1]}`, "unexpected `,` at byte"],
    ["a trailing comma", `{"items":[${pad},]}`, "unexpected `]` at byte"],
    ["a missing colon", `{"a" [${pad}]}`, "unexpected `[` at byte 5"],
    ["a missing comma after an array", `{"a":[${pad}] "b":1}`, 'unexpected `"` at byte'],
    ["a missing comma after a value", `{"p":[${pad}],"a":{"x":1} "b":1}`, "in the piece at byte"],
    ["a value after the end", `[${pad}] 1`, "unexpected `1` at byte"],
    ["an unclosed string", `[${pad},"abc]`, "is not closed"],
    ["an unclosed array", `{"a":[${pad}`, "ends inside an array or object"],
    ["a bad element", `[${pad},tru]`, "in the piece at byte"],
    ["a dangling comma in the object", `{"a":[${pad}],}`, "unexpected `}` at byte"],
  ])("%s is malformed_json", async (_name, text, message) => {
    const r = await read(text, { pieceBytes: 500 });
    expect(r.problem?.code).toBe("malformed_json");
    expect(r.problem?.detail).toContain(message);
  });

  test("no single element may be larger than the piece limit; the problem points at it", async () => {
    const big = `"${"x".repeat(600)}"`;
    const r = await read(`{"items":[1,2,${big}]}`, { pieceBytes: 500 });
    expect(r.problem?.code).toBe("body_too_large");
    expect(r.problem?.problems).toEqual([{ pointer: "/items/2", message: "at most 500 bytes" }]);
    expect(r.problem?.detail).toContain("`server.bodyLimit`");
    const member = await read(`{"a":${big},"items":[1]}`, { pieceBytes: 500 });
    expect(member.problem?.problems?.[0]?.pointer).toBe("/a");
  });

  test("it yields to the event loop while parsing", async () => {
    const item = JSON.stringify({ result: { sha256: "a".repeat(64), name: "x".repeat(2_000) } });
    const text = `{"items":[${Array.from({ length: 4_000 }, () => item).join(",")}]}`;
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const r = await read(text, { pieceBytes: 1_000_000, sliceMs: 1 });
    ticking = false;
    expect((r.value as { items: unknown[] }).items).toHaveLength(4_000);
    // other work ran while the 8 MB body was parsed (it cannot run during one synchronous parse)
    expect(turns).toBeGreaterThan(2);
  });
});

describe("a body read as it arrives", () => {
  /** Reads `bytes` cut at `cuts`, as a request stream would deliver them. */
  async function stream(bytes: Buffer, cuts: number[], options: Partial<JsonBodyOptions> = {}) {
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let at = 0;
    for (const p of [...points, bytes.length]) {
      if (p > at) chunks.push(bytes.subarray(at, p));
      at = Math.max(at, p);
    }
    try {
      const r = await readJsonBody(Readable.from(chunks), bytes.length, 100_000_000, {
        ...OPTIONS,
        ...options,
      });
      return { value: r.value, text: r.text };
    } catch (error) {
      if (error instanceof ProblemError) return { problem: error.code, detail: error.detail };
      throw error;
    }
  }
  const outcome = async (bytes: Buffer, options: Partial<JsonBodyOptions>) => {
    const r = await read(bytes, options);
    return r.problem ? { problem: r.problem.code, detail: r.problem.detail } : r;
  };

  test("cut anywhere (in strings, escapes, numbers), the outcome is the same as all at once", async () => {
    const text = fc.oneof(
      fc.json({ maxDepth: 4 }),
      fc
        .array(fc.json({ maxDepth: 2 }), { minLength: 20, maxLength: 60 })
        .map((a) => `[${a.join(", ")}]`),
      fc
        .array(fc.json({ maxDepth: 2 }), { minLength: 20, maxLength: 60 })
        .map((a) => `{"items": [${a.join(",")}], "n": 1}`),
    );
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.constantFrom(1_000_000, 400),
        fc.constantFrom(8, 3),
        async (t, cuts, pieceBytes, maxDepth) => {
          const bytes = Buffer.from(t);
          const options = { pieceBytes, maxDepth };
          expect(await stream(bytes, cuts, options)).toEqual(await outcome(bytes, options));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a byte at a time: escaped quotes and backslashes across chunk boundaries", async () => {
    const body = Buffer.from(
      `{"items":[${Array.from({ length: 40 }, (_, i) => `"a\\"b\\${i}"`).join(",")}]}`,
    );
    const cuts = Array.from({ length: body.length }, (_, i) => i);
    for (const pieceBytes of [1_000_000, 100])
      expect(await stream(body, cuts, { pieceBytes })).toEqual(await outcome(body, { pieceBytes }));
  });

  test("too deep is known from the first chunk; the rest is read and dropped", async () => {
    let served = 0;
    const deep = Buffer.alloc(64 * 1024, "[");
    // 16 MB of `[`, 64 KiB a chunk
    const source = Readable.from(
      (function* () {
        for (; served < 256; served++) yield deep;
      })(),
    );
    const started = performance.now();
    const error = await readJsonBody(source, 256 * deep.length, 32_000_000, OPTIONS).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "json_too_deep" });
    expect((error as ProblemError).detail).toContain("at byte 8 ");
    expect(served).toBe(256); // read to the end, so the client gets the answer
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  test.each([
    ["longer than declared", 10, 5, "invalid_request"],
    ["shorter than declared", 3, 5, "invalid_request"],
    ["over the limit", 50, 100, "body_too_large"],
  ])("a body %s is refused", async (_name, size, declared, code) => {
    const bytes = Buffer.from(`[${"1,".repeat(size)}1]`);
    const error = await readJsonBody(Readable.from([bytes]), bytes.length - size + declared, 40, {
      ...OPTIONS,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code });
  });
});
