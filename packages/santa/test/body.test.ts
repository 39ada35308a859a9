// Request bodies as agents compress them, inflated under a ceiling: each encoding, an encoding
// this server does not take, data that is not what its encoding says, and a zip bomb.

import { deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { BodyEncodingError, decodeBody } from "../src/index.js";

const json = Buffer.from(JSON.stringify({ machine_id: "M-1", serial_num: "SERIAL1" }));

async function refusal(body: Buffer, encoding: string | undefined, maxBytes: number) {
  const error = await decodeBody(body, encoding, maxBytes).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BodyEncodingError);
  return error as BodyEncodingError;
}

describe("decodeBody", () => {
  it.each([
    ["no encoding", json, undefined],
    ["identity", json, "identity"],
    ["an empty header, as identity", json, ""],
    ["deflate as zlib data (what Santa sends)", deflateSync(json), "deflate"],
    ["deflate as raw deflate data (what some clients send)", deflateRawSync(json), "deflate"],
    ["gzip", gzipSync(json), "gzip"],
    ["x-gzip", gzipSync(json), "x-gzip"],
    ["an encoding in another case, with spaces", gzipSync(json), " GZip "],
  ])("reads %s", async (_, body, encoding) => {
    expect(await decodeBody(body, encoding, 1024)).toEqual(json);
  });

  it("refuses an encoding it does not take, naming it", async () => {
    const error = await refusal(json, "br", 1024);
    expect(error.reason).toBe("unsupported");
    expect(error.message).toBe(
      "content encoding `br` is not accepted: send `deflate`, `gzip` or none",
    );
  });

  it.each([
    ["gzip that is not gzip", json, "gzip"],
    ["deflate that is not deflate", Buffer.from([0xff, 0xff, 0xff, 0xff]), "deflate"],
    ["truncated zlib data", deflateSync(json).subarray(0, 10), "deflate"],
  ])("refuses %s as corrupt", async (_, body, encoding) => {
    const error = await refusal(body, encoding, 1024);
    expect(error.reason).toBe("corrupt");
    expect(error.message).toMatch(new RegExp(`^the body is not valid ${encoding} data: `));
  });

  it("refuses a body that inflates past the ceiling, exactly past it", async () => {
    expect(await decodeBody(deflateSync(json), "deflate", json.length)).toEqual(json);
    const error = await refusal(deflateSync(json), "deflate", json.length - 1);
    expect(error.reason).toBe("too_large");
    expect(error.message).toBe(`the body inflates to more than ${json.length - 1} bytes`);
  });

  it.each([
    ["deflate", deflateSync],
    ["gzip", gzipSync],
  ])("refuses a %s zip bomb (50 MB of zeros) at a 1 MB ceiling", async (encoding, compress) => {
    const bomb = compress(Buffer.alloc(50 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100 * 1024);
    const error = await refusal(bomb, encoding, 1024 * 1024);
    expect(error.reason).toBe("too_large");
  });

  it("refuses a 2 GB gzip bomb in a fraction of the time inflating it would take", async () => {
    // 40 gzip members of 50 MB of zeros each, which gunzip reads as one body: 2 MB that inflate to
    // 2 GB, which takes seconds and 2 GB of memory; stopping at the ceiling takes milliseconds
    const bomb = Buffer.concat(Array(40).fill(gzipSync(Buffer.alloc(50 * 1024 * 1024))));
    const started = performance.now();
    const error = await refusal(bomb, "gzip", 1024 * 1024);
    expect(error.reason).toBe("too_large");
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
