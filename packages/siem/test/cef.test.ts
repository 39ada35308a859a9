import { describe, expect, it } from "vitest";
import { cefFormatter, truncate } from "../src/cef.js";
import { SIEM_EVENT_KINDS, sampleEvents } from "../src/index.js";
import { parseCef } from "./support/cef-parse.js";
import { loadCefDictionary, validateCef } from "./support/cef-validate.js";

const dictionary = loadCefDictionary();
const samples = sampleEvents("2026-12-01T10:00:00.000Z");

describe("CEF rendering", () => {
  it("has a sample of every kind", () => {
    expect(new Set(samples.map((e) => e.kind))).toEqual(new Set(SIEM_EVENT_KINDS));
  });

  it.each(samples.map((event) => [`${event.kind} ${event.id}`, event] as const))(
    "%s validates against the CEF dictionary",
    (_, event) => {
      const line = cefFormatter.render(event);
      expect(line).not.toMatch(/[\r\n]/);
      expect(validateCef(dictionary, line)).toEqual([]);
      const { header, extensions } = parseCef(line);
      expect(header.slice(0, 5)).toEqual([
        "CEF:0",
        "Clearance",
        "Clearance",
        event.product.version,
        event.kind,
      ]);
      expect(Object.fromEntries(extensions)).toMatchObject({
        externalId: event.id,
        rt: String(Date.parse(event.time)),
      });
    },
  );

  it.each([
    ["a short value", "abc", 5, "abc"],
    ["exactly the limit", "abcde", 5, "abcde"],
    ["one over", "abcdef", 5, "abcd…"],
    ["astral characters are not split", "😀😀😀😀😀😀", 3, "😀😀…"],
  ])("truncate: %s", (_, value, max, expected) => {
    expect(truncate(value, max)).toBe(expected);
  });
});

const [deny] = samples;
const valid = cefFormatter.render(deny!);

const broken: [string, string, RegExp][] = [
  ["another CEF version", valid.replace("CEF:0|", "CEF:1|"), /starts with "CEF:1"/],
  [
    "an unescaped pipe in the header",
    valid.replace("|Clearance|Clearance|", "|Clear|ance|Clearance|"),
    /severity/,
  ],
  [
    "a bad header escape",
    valid.replace("|file denied|", "|file\\ denied|"),
    /header field 6: a backslash escapes " "/,
  ],
  ["a severity over 10", valid.replace(/\|6\|/, "|11|"), /severity "11"/],
  ["an unknown key", `${valid} clearanceRule=x`, /clearanceRule is not a key/],
  [
    "an unescaped = in a value",
    valid.replace("msg=12 engines", "msg=12=engines"),
    /msg: an unescaped =/,
  ],
  [
    "a bad value escape",
    valid.replace("msg=12 engines", "msg=12\\tengines"),
    /msg: a backslash escapes "t"/,
  ],
  [
    "a string over its length",
    valid.replace(/act=\w+/, `act=${"x".repeat(64)}`),
    /act \(deviceAction\) is longer than 63/,
  ],
  [
    "an Integer that is not one",
    valid.replace(/fsize=\d+/, "fsize=big"),
    /fsize \(fileSize\) "big" is not an Integer/,
  ],
  [
    "a Time Stamp that is not one",
    valid.replace(/rt=\d+/, "rt=yesterday"),
    /rt \(deviceReceiptTime\) "yesterday"/,
  ],
  ["a custom string without its label", valid.replace(/cs1Label=\w+ /, ""), /cs1 has no cs1Label/],
  ["a key twice", `${valid} act=deny`, /act appears twice/],
  ["a line break", valid.replace("msg=12", "msg=\n12"), /line break/],
];

describe("CEF validator", () => {
  it("accepts the unbroken record", () => {
    expect(validateCef(dictionary, valid)).toEqual([]);
  });

  it.each(broken)("rejects %s", (_, line, expected) => {
    expect(line).not.toBe(valid);
    const errors = validateCef(dictionary, line);
    expect(
      errors.some((error) => expected.test(error)),
      errors.join("\n"),
    ).toBe(true);
  });
});
