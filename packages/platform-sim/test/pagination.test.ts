// Paging through GET /v1/files sees every completed analysis exactly once, whatever completes
// meanwhile: the contract's "incremental pulls neither skip nor repeat".
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { clock, makeSim, type Sim, T0 } from "./helpers.js";

interface Page {
  data: { sha256: string; analyzed_at: string; version: number }[];
  nextCursor: string | null;
}

async function page(sim: Sim, query: string): Promise<Page> {
  const res = await sim.call("GET", `/v1/files?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** Pages to the end with `between(i)` run before each page after the first. */
async function pageAll(sim: Sim, limit: number, between: (i: number) => Promise<void>) {
  const seen: Page["data"] = [];
  let cursor: string | null = null;
  let i = 0;
  do {
    if (i > 0) await between(i);
    const p: Page = await page(sim, `limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`);
    seen.push(...p.data);
    cursor = p.nextCursor;
    i++;
  } while (cursor !== null);
  return seen;
}

function expectListOrder(items: Page["data"]) {
  for (let i = 1; i < items.length; i++) {
    const [a, b] = [items[i - 1]!, items[i]!];
    expect(
      a.analyzed_at < b.analyzed_at || (a.analyzed_at === b.analyzed_at && a.sha256 < b.sha256),
    ).toBe(true);
  }
}

describe("pagination", () => {
  test("250 files in pages of 7 with inserts between pages: each exactly once, in order", async () => {
    const c = clock();
    const sim = await makeSim({ seedFiles: 250, analysisDelayMs: 0, now: c.now });
    try {
      const before = (await page(sim, "limit=1000")).data.map((f) => f.sha256);
      expect(before).toHaveLength(250);
      const inserted: string[] = [];
      const seen = await pageAll(sim, 7, async (i) => {
        // Inserts in the same millisecond as the previous one, and uploads through the API.
        if (i % 3 === 0) c.advance(1);
        if (i < 30) {
          const added = (await sim.call("POST", "/_sim/files", { body: { count: 2 } })).json().data;
          inserted.push(...added.map((f: { sha256: string }) => f.sha256));
          inserted.push((await sim.upload(`upload ${i}`)).sha256);
        }
      });
      const shas = seen.map((f) => f.sha256);
      expect(new Set(shas).size).toBe(shas.length);
      expect(shas).toEqual([...before, ...inserted]);
      expectListOrder(seen);
    } finally {
      await sim.close();
    }
  });

  test("a frozen clock still gives every completion its own later analyzed_at", async () => {
    const sim = await makeSim({ analysisDelayMs: 0, now: () => T0 });
    try {
      for (let i = 0; i < 5; i++) await sim.upload(`frozen ${i}`);
      const { data } = await page(sim, "");
      expect(data.map((f) => f.analyzed_at)).toEqual(
        [0, 1, 2, 3, 4].map((ms) => new Date(T0 + ms).toISOString()),
      );
    } finally {
      await sim.close();
    }
  });

  test("property: any interleaving of pages, inserts and re-analyses neither skips nor repeats", async () => {
    const step = fc.record({
      limit: fc.integer({ min: 1, max: 9 }),
      inserts: fc.integer({ min: 0, max: 4 }),
      reanalyse: fc.boolean(),
      tick: fc.integer({ min: 0, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 30 }),
        fc.array(step, { maxLength: 25 }),
        async (seeded, steps) => {
          const c = clock();
          const sim = await makeSim({ seedFiles: seeded, analysisDelayMs: 0, now: c.now });
          try {
            const initial = (await page(sim, "limit=1000")).data.map((f) => f.sha256);
            const seen: Page["data"] = [];
            const reanalysed = new Set<string>();
            let cursor: string | null = null;
            let k = 0;
            do {
              // Once the steps run out, page on without changes until the end.
              const s =
                k < steps.length
                  ? steps[k]!
                  : {
                      ...(steps[k % Math.max(1, steps.length)] ?? { limit: 5, tick: 0 }),
                      inserts: 0,
                      reanalyse: false,
                    };
              k++;
              const p: Page = await page(
                sim,
                `limit=${s.limit}${cursor === null ? "" : `&cursor=${cursor}`}`,
              );
              seen.push(...p.data);
              cursor = p.nextCursor;
              c.advance(s.tick);
              if (s.inserts > 0)
                await sim.call("POST", "/_sim/files", { body: { count: s.inserts } });
              const first = seen[0];
              if (s.reanalyse && first !== undefined) {
                reanalysed.add(first.sha256);
                await sim.call("POST", "/v1/upload/complete", { body: { sha256: first.sha256 } });
              }
            } while (cursor !== null);
            expectListOrder(seen);
            // No (file, version) twice; every file present at the start was seen.
            const pairs = seen.map((f) => `${f.sha256}@${f.version}`);
            expect(new Set(pairs).size).toBe(pairs.length);
            const shas = new Set(seen.map((f) => f.sha256));
            for (const s of initial) expect(shas.has(s)).toBe(true);
            // Only a re-analysed file may show up twice, each time with a new version.
            for (const s of shas) {
              const n = seen.filter((f) => f.sha256 === s).length;
              if (!reanalysed.has(s)) expect(n).toBe(1);
            }
          } finally {
            await sim.close();
          }
        },
      ),
      { numRuns: 40, seed: 20261126 },
    );
  });
});
