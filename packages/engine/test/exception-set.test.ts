import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ExceptionRecord,
  ExceptionSet,
  InvalidExceptionsError,
  validateResult,
} from "../src/index.js";
import { NOW } from "./helpers.js";

const DAY = 86_400_000;
const A = "a".repeat(64);
const B = "b".repeat(64);

function record(over: Partial<ExceptionRecord> & { id: string }): ExceptionRecord {
  return {
    status: "approved",
    scope: { sha256: A },
    created: NOW - 10 * DAY,
    expires: NOW + 10 * DAY,
    approvers: ["alice"],
    justification: "needed",
    case: null,
    ...over,
  };
}

function result(fields: Record<string, unknown> = {}): Record<string, unknown> {
  const v = validateResult({ sha256: A, ...fields });
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.result as Record<string, unknown>;
}

const signed = {
  signature: { status: "valid", thumbprint: "AB:CD:EF" },
  vendor: { name: "Acme", product: "Tool" },
};

describe("ExceptionSet.find: the one exception that applies", () => {
  const cases: [
    string,
    ExceptionRecord[],
    Record<string, unknown>,
    unknown,
    number,
    string | undefined,
  ][] = [
    ["none", [], result(), undefined, NOW, undefined],
    [
      "by file hash, any case",
      [record({ id: "f", scope: { sha256: A.toUpperCase() } })],
      result(),
      undefined,
      NOW,
      "f",
    ],
    [
      "another file's",
      [record({ id: "f", scope: { sha256: B } })],
      result(),
      undefined,
      NOW,
      undefined,
    ],
    ["expired at now", [record({ id: "f", expires: NOW })], result(), undefined, NOW, undefined],
    ["not yet expired", [record({ id: "f", expires: NOW + 1 })], result(), undefined, NOW, "f"],
    [
      "by signer thumbprint, without case or colons",
      [record({ id: "s", scope: { signer: "abcdef" } })],
      result(signed),
      undefined,
      NOW,
      "s",
    ],
    [
      "another file whose hash starts with the same digits",
      [record({ id: "f", scope: { sha256: `aaaaa${"0".repeat(59)}` } })],
      result(),
      undefined,
      NOW,
      undefined,
    ],
    [
      "a file hash in upper case, on a result not validated",
      [record({ id: "f", scope: { sha256: A } })],
      { sha256: A.toUpperCase() },
      undefined,
      NOW,
      "f",
    ],
    [
      "a thumbprint with colons in the result, without them in the exception",
      [record({ id: "s", scope: { signer: "abcdef0123" } })],
      result({ ...signed, signature: { ...signed.signature, thumbprint: "AB:CD:EF:01:23" } }),
      undefined,
      NOW,
      "s",
    ],
    [
      "a thumbprint with colons in the exception, in lower case in the result",
      [record({ id: "s", scope: { signer: "AB:CD:EF:01:23" } })],
      result({ ...signed, signature: { ...signed.signature, thumbprint: "abcdef0123" } }),
      undefined,
      NOW,
      "s",
    ],
    [
      "a signer exception needs a valid signature",
      [record({ id: "s", scope: { signer: "abcdef" } })],
      result({ ...signed, signature: { status: "invalid", thumbprint: "abcdef" } }),
      undefined,
      NOW,
      undefined,
    ],
    [
      "by vendor and product",
      [record({ id: "v", scope: { vendor: "Acme", product: "Tool" } })],
      result(signed),
      undefined,
      NOW,
      "v",
    ],
    [
      "another product of the vendor",
      [record({ id: "v", scope: { vendor: "Acme", product: "Other" } })],
      result(signed),
      undefined,
      NOW,
      undefined,
    ],
    [
      "file before signer before vendor, whatever the status",
      [
        record({ id: "v", status: "rejected", scope: { vendor: "Acme", product: "Tool" } }),
        record({ id: "s", status: "rejected", scope: { signer: "ABCDEF" } }),
        record({ id: "f" }),
      ],
      result(signed),
      undefined,
      NOW,
      "f",
    ],
    [
      "at one specificity, rejected before approved",
      [record({ id: "new", created: NOW - DAY }), record({ id: "old", status: "rejected" })],
      result(),
      undefined,
      NOW,
      "old",
    ],
    [
      "then the newest",
      [record({ id: "old" }), record({ id: "new", created: NOW - DAY })],
      result(),
      undefined,
      NOW,
      "new",
    ],
    [
      "a context scope that matches",
      [record({ id: "c", context: { group: "finance" } })],
      result(),
      { group: "finance", team: "x" },
      NOW,
      "c",
    ],
    [
      "a context scope that does not",
      [record({ id: "c", context: { group: "finance" } })],
      result(),
      { group: "sales" },
      NOW,
      undefined,
    ],
    [
      "a context scope without a context",
      [record({ id: "c", context: { group: "finance" } })],
      result(),
      undefined,
      NOW,
      undefined,
    ],
  ];
  it.each(cases)("%s", (_name, records, r, context, now, id) => {
    expect(new ExceptionSet(records).find(r, context, now)?.id).toBe(id);
  });

  it("gives the exception as decide takes it", () => {
    const set = new ExceptionSet([
      record({ id: "f", case: "case-7", created: "2026-11-16T12:00:00Z" }),
    ]);
    expect(set.find(result(), undefined, NOW)).toEqual({
      id: "f",
      status: "approved",
      kind: "file",
      created: "2026-11-16T12:00:00.000Z",
      expires: new Date(NOW + 10 * DAY).toISOString(),
      approvers: ["alice"],
      justification: "needed",
      case: "case-7",
    });
  });
});

describe("ExceptionSet validates every record", () => {
  it.each([
    ["not an object", "x", "/0", "an exception is an object"],
    ["a bad status", { ...record({ id: "a" }), status: "ok" }, "/0/status", "should be"],
    ["a bad hash", record({ id: "a", scope: { sha256: "abc" } }), "/0/scope/sha256", "64 hex"],
    [
      "two scopes",
      { ...record({ id: "a" }), scope: { sha256: A, signer: "x" } },
      "/0/scope",
      "should be",
    ],
    ["no expiry", record({ id: "a", expires: null }), "/0/expires", "must expire"],
    ["a bad time", record({ id: "a", created: "soon" }), "/0/created", "RFC 3339"],
    ["an unknown field", { ...record({ id: "a" }), owner: "x" }, "/0/owner", "unknown field"],
    [
      "a context of numbers",
      { ...record({ id: "a" }), context: { n: 1 } },
      "/0/context/n",
      "string",
    ],
  ])("%s", (_name, raw, pointer, message) => {
    let error: unknown;
    try {
      new ExceptionSet([raw]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidExceptionsError);
    const problem = (error as InvalidExceptionsError).problems.find((p) => p.pointer === pointer);
    expect(problem?.message).toContain(message);
  });

  it("duplicate ids", () => {
    expect(() => new ExceptionSet([record({ id: "a" }), record({ id: "a" })])).toThrow(
      "duplicate id `a`",
    );
  });

  it("no expiry when the caller allows it", () => {
    const set = new ExceptionSet([record({ id: "a", expires: null })], { allowNoExpiry: true });
    expect(set.find(result(), undefined, NOW + 1000 * DAY)).toMatchObject({ id: "a" });
    expect(set.find(result(), undefined, NOW)?.expires).toBeUndefined();
  });
});

describe("ExceptionSet.find agrees with a brute-force filter and sort", () => {
  const HASHES = [A, B];
  const scope = fc.oneof(
    fc.constantFrom(...HASHES).map((sha256) => ({ sha256 })),
    fc.constantFrom("abcdef", "AB:CD:EF", "123456").map((signer) => ({ signer })),
    fc
      .tuple(fc.constantFrom("Acme", "Other"), fc.constantFrom("Tool", "Suite"))
      .map(([vendor, product]) => ({ vendor, product })),
  );
  const records = fc
    .array(
      fc.record({
        status: fc.constantFrom("approved" as const, "rejected" as const),
        scope,
        context: fc.option(fc.constantFrom({ group: "finance" }, { group: "sales", team: "a" }), {
          nil: undefined,
        }),
        created: fc.integer({ min: -20, max: 0 }).map((d) => NOW + d * DAY),
        expires: fc.integer({ min: -5, max: 20 }).map((d) => NOW + d * DAY),
      }),
      { maxLength: 30 },
    )
    .map((rs) => rs.map((r, i) => record({ id: `e${i}`, ...r })));
  const input = fc.record({
    sha256: fc.constantFrom(...HASHES),
    status: fc.constantFrom("valid", "invalid"),
    thumbprint: fc.constantFrom("abcdef", "123456", "ffff"),
    vendor: fc.constantFrom("Acme", "Other"),
    product: fc.constantFrom("Tool", "Suite"),
  });
  const contextArb = fc.constantFrom(
    undefined,
    { group: "finance" },
    { group: "sales", team: "a" },
    { group: "sales" },
  );

  function bruteForce(
    all: ExceptionRecord[],
    i: { sha256: string; status: string; thumbprint: string; vendor: string; product: string },
    context: Record<string, string> | undefined,
    now: number,
  ): string | undefined {
    const norm = (t: string) => t.replaceAll(":", "").toLowerCase();
    const specificity = (r: ExceptionRecord): number | undefined => {
      const s = r.scope;
      if ("sha256" in s) return s.sha256 === i.sha256 ? 0 : undefined;
      if ("signer" in s)
        return i.status === "valid" && norm(s.signer) === norm(i.thumbprint) ? 1 : undefined;
      return s.vendor === i.vendor && s.product === i.product ? 2 : undefined;
    };
    const applies = all.filter(
      (r) =>
        specificity(r) !== undefined &&
        now < (r.expires as number) &&
        Object.entries(r.context ?? {}).every(([k, v]) => context?.[k] === v),
    );
    applies.sort(
      (a, b) =>
        specificity(a)! - specificity(b)! ||
        (a.status === b.status ? 0 : a.status === "rejected" ? -1 : 1) ||
        (b.created as number) - (a.created as number) ||
        (a.id < b.id ? -1 : 1),
    );
    return applies[0]?.id;
  }

  it("on random exception sets, files, contexts and times", () => {
    fc.assert(
      fc.property(
        records,
        input,
        contextArb,
        fc.integer({ min: -3, max: 25 }),
        (rs, i, context, days) => {
          const set = new ExceptionSet(rs);
          const r = result({
            sha256: i.sha256,
            signature: { status: i.status, thumbprint: i.thumbprint },
            vendor: { name: i.vendor, product: i.product },
          });
          const now = NOW + days * DAY;
          expect(set.find(r, context, now)?.id).toBe(bruteForce(rs, i, context, now));
        },
      ),
      { numRuns: 500 },
    );
  });
});
