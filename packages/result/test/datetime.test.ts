import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isRfc3339DateTime } from "../src/validate.js";

// The reference: the capturing regex the fast check replaced, with the same calendar rules.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
function reference(text: string): boolean {
  const m = DATE_TIME.exec(text);
  if (m === null) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as number[];
  const days =
    mo === 2
      ? (y! % 4 === 0 && y! % 100 !== 0) || y! % 400 === 0
        ? 29
        : 28
      : [4, 6, 9, 11].includes(mo!)
        ? 30
        : 31;
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > days || h! > 23 || mi! > 59 || s! > 59) return false;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return false;
  return !Number.isNaN(Date.parse(text));
}

describe("isRfc3339DateTime", () => {
  it.each([
    ["2026-11-26T12:00:00Z", true],
    ["2026-11-26t12:00:00.123z", true],
    ["2026-11-26T12:00:00+02:00", true],
    ["2024-02-29T00:00:00Z", true],
    ["2026-02-29T00:00:00Z", false],
    ["2026-11-26T24:00:00Z", false],
    ["2026-11-26T12:00:00", false],
    ["2026-11-26T12:00:00.Z", false],
    ["2026-11-26 12:00:00Z", false],
    ["2026-11-26T12:00:00+2:00", false],
  ])("%s -> %s", (text, ok) => expect(isRfc3339DateTime(text)).toBe(ok));

  it("agrees with the regex it replaced on random near-timestamps", () => {
    const digit = fc.constantFrom(..."0123456789");
    const d = (n: number) => fc.array(digit, { minLength: n, maxLength: n }).map((a) => a.join(""));
    const near = fc
      .tuple(
        d(4),
        d(2),
        d(2),
        fc.constantFrom("T", "t", " ", "x"),
        d(2),
        d(2),
        d(2),
        fc.constantFrom("", ".5", ".123456", "."),
        fc.constantFrom("Z", "z", "+01:30", "-23:59", "+24:00", "", "+0130"),
      )
      .map(
        ([y, mo, da, sep, h, mi, s, frac, zone]) =>
          `${y}-${mo}-${da}${sep}${h}:${mi}:${s}${frac}${zone}`,
      );
    fc.assert(
      fc.property(
        fc.oneof(near, fc.string()),
        (text) => isRfc3339DateTime(text) === reference(text),
      ),
      { numRuns: 3000 },
    );
  });
});
