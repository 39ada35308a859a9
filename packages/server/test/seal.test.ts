import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { type AuditRecord, chainHash, contentHash, GENESIS_HASH } from "../src/audit/entry.js";
import { DECISION_KIND } from "../src/audit/kinds.js";
import { entryParts, kindParts, sealBatch, sealBody, sealItem } from "../src/audit/seal.js";

/**
 * The v1 canonical body as first released: one JSON.stringify of the fields in this order. Stored
 * chains are hashed over exactly these bytes, so the sealing code must keep producing them.
 */
function v1Body(r: AuditRecord, chain: string, seq: number, prevHash: string): string {
  return JSON.stringify({
    v: 1,
    chain,
    seq,
    prevHash,
    id: r.id,
    time: r.time,
    source: r.source,
    requester: r.requester,
    sha256: r.sha256,
    fileName: r.fileName,
    decision: r.decision,
    rule: r.rule,
    reason: r.reason,
    matched: r.matched,
    monitored: r.monitored,
    errors: r.errors,
    ruleset: { revision: r.ruleset.revision, commit: r.ruleset.commit, dirty: r.ruleset.dirty },
    latencyUs: r.latencyUs,
    inputHash: r.inputHash,
    shadow: r.shadow,
    deliveryId: r.deliveryId,
    explain: r.explain,
  });
}

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
// any text, including quotes, backslashes, control characters and lone surrogates
const text = fc.string({ unit: "binary" });
const record: fc.Arbitrary<AuditRecord> = fc.record({
  id: fc.uuid(),
  time: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  source: fc.constantFrom("api", "batch", "webhook", "gate", "sync"),
  requester: fc.option(text),
  sha256: hex64,
  fileName: fc.option(text),
  decision: fc.constantFrom("allow", "deny", "review"),
  rule: fc.option(text),
  reason: text,
  matched: fc.array(text, { maxLength: 4 }),
  monitored: fc.array(text, { maxLength: 4 }),
  errors: fc.array(fc.record({ rule: text, message: text, monitor: fc.boolean() }), {
    maxLength: 3,
  }),
  ruleset: fc.record({ revision: text, commit: fc.option(hex64), dirty: fc.boolean() }),
  latencyUs: fc.double({ min: 0, max: 1e6, noNaN: true }),
  inputHash: hex64,
  shadow: fc.option(
    fc.record(
      {
        decision: fc.string(),
        rule: fc.option(text),
        revision: fc.string(),
        error: fc.record({ code: fc.string(), message: text }),
      },
      { requiredKeys: ["decision", "rule", "revision"] },
    ),
  ),
  deliveryId: fc.option(text),
  explain: fc.option(fc.jsonValue()),
});

describe("sealing", () => {
  test("the body is byte for byte the v1 canonical form, for any record", () => {
    fc.assert(
      fc.property(record, text, fc.nat(), hex64, (r, chain, seq, prev) => {
        const { inputHash: _, ...rest } = r;
        expect(sealBody(chain, seq, prev, entryParts(rest), r.inputHash)).toBe(
          v1Body(r, chain, seq, prev),
        );
      }),
      { numRuns: 300 },
    );
  });

  test("a batch continues its head: seq, previous hash, content hash, chain hash", () => {
    const base = fc.sample(record, { numRuns: 3, seed: 7 });
    const items = base.map((r, i) =>
      sealItem(r, `{"result":{"n":${i % 2}}}`, i === 0 ? [{ target: "t", payload: "p" }] : []),
    );
    const sealed = sealBatch(items, "main", { seq: 41, hash: GENESIS_HASH }, "key");
    expect(sealed.rows.map((r) => r.seq)).toEqual([42, 43, 44]);
    let prev = GENESIS_HASH;
    sealed.rows.forEach((row, i) => {
      expect(sealed.placements[i]).toEqual({
        seq: row.seq,
        prevHash: prev,
        inputHash: contentHash(items[i]!.input),
        hash: row.hash,
      });
      expect(row.body).toBe(
        v1Body({ ...base[i]!, inputHash: row.inputHash }, "main", row.seq, prev),
      );
      expect(row.hash).toBe(chainHash(prev, row.body, "key"));
      prev = row.hash;
    });
    expect(sealed.head).toEqual({ seq: 44, hash: prev });
    // two distinct inputs among three entries: each stored once
    expect(sealed.inputs.map((i) => i.body)).toEqual(['{"result":{"n":0}}', '{"result":{"n":1}}']);
    expect(sealed.outbox).toMatchObject([{ id: `${items[0]!.id}:t`, entryId: items[0]!.id }]);
  });

  test("the registry describes decisions as sealed: body fields in v1 order, columns as stored", () => {
    fc.assert(
      fc.property(record, (r) => {
        const { inputHash: _, ...rest } = r;
        // a ruleset with exactly its three keys, as `entryParts` writes it
        expect(kindParts(DECISION_KIND, rest)).toEqual(entryParts(rest));
        expect(sealItem(rest, "{}", []).columns).toEqual(
          DECISION_KIND.columns.map((c) => (rest as Record<string, unknown>)[c.field]),
        );
      }),
      { numRuns: 200 },
    );
  });
});
