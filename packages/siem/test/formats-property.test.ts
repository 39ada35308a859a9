// Whatever text an event carries (pipes, equals signs, backslashes, line breaks, any Unicode, very
// long values, absent values), every format renders it to one line that its schema accepts, and
// the values it keeps come back unchanged when the line is read: JSON as parsed, CEF through the
// test reader, cut and trimmed by the CEF renderer's documented rule.

import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { truncate } from "../src/cef.js";
import {
  cefFormatter,
  ECS_VERSION,
  ecsFormatter,
  OCSF_VERSION,
  ocsfFormatter,
  type SiemEvent,
  type SiemFile,
  sampleEvents,
} from "../src/index.js";
import { parseCef } from "./support/cef-parse.js";
import { loadCefDictionary, validateCef } from "./support/cef-validate.js";
import { loadEcsSchema, validateEcs } from "./support/ecs-validate.js";
import { loadOcsfSchema, locateOcsfSchemaRepo, ocsfSuiteTitle } from "./support/ocsf-schema.js";
import { type OcsfSchema, validateOcsf } from "./support/ocsf-validate.js";

// the OCSF schema is read from an ocsf-schema git repository when the tests run
// (support/ocsf-schema.ts); without one only its validation is skipped
const ocsfLocation = locateOcsfSchemaRepo();
const ecs = loadEcsSchema(ECS_VERSION);
const cef = loadCefDictionary();

const awkward = fc.constantFrom(
  "|",
  "=",
  "\\",
  "\n",
  "\r\n",
  "\r",
  " ",
  "\t",
  "é",
  "😀",
  "\u2028",
  "\\n",
  "a=b",
);
/** Text made to break formats: special characters mixed into any Unicode, sometimes very long. */
const text = fc.oneof(
  fc
    .array(fc.oneof(awkward, fc.string({ unit: "binary", maxLength: 8 })), { maxLength: 12 })
    .map((parts) => parts.join("")),
  fc.string({ unit: "binary", minLength: 1000, maxLength: 5000 }),
);
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: null });
const time = fc
  .date({
    min: new Date("1970-01-01T00:00:00Z"),
    max: new Date("2100-01-01T00:00:00Z"),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString());
const sha256 = fc.stringMatching(/^[0-9a-f]{64}$/);

const file: fc.Arbitrary<SiemFile> = fc.record({
  sha256,
  name: maybe(text),
  size: maybe(fc.maxSafeNat()),
  contentType: maybe(text),
  signatureStatus: maybe(fc.constantFrom("valid", "expired", "self_signed", "unsigned", "invalid")),
  signer: maybe(text),
  vendor: maybe(text),
});

const values = fc.record({
  time,
  version: text,
  link: maybe(text),
  chain: text,
  seq: fc.maxSafeNat(),
  a: text,
  b: text,
  maybeA: maybe(text),
  maybeB: maybe(text),
  list: fc.array(text, { maxLength: 3 }),
  file,
  sha256,
  count: fc.nat(),
  index: fc.nat({ max: 13 }),
});

type Values = typeof values extends fc.Arbitrary<infer V> ? V : never;

/** A sample event of some kind with every free-text field replaced by generated values. */
function eventFrom(v: Values): SiemEvent {
  const template = sampleEvents(v.time, v.version)[v.index]!;
  const common = {
    ...template,
    link: v.link,
    entry: { ...template.entry, chain: v.chain, seq: v.seq },
  };
  switch (common.kind) {
    case "decision":
      return {
        ...common,
        rule: v.maybeA,
        reason: v.b,
        matched: v.list,
        requester: v.maybeB,
        source: v.a,
        file: v.file,
        approvalForbiddenBy: v.list,
      };
    case "review.opened":
    case "review.resolved":
    case "review.withdrawn":
    case "review.expired":
      return {
        ...common,
        rule: v.maybeA,
        reason: v.b,
        requester: v.maybeB,
        file: v.file,
        voters: v.list,
      };
    case "review.vote":
      return { ...common, voter: v.a, justification: v.b, sha256: v.sha256 };
    case "exception.created":
    case "exception.expired":
    case "exception.revoked":
      return {
        ...common,
        justification: v.maybeA,
        actors: v.list,
        scope: { kind: common.scope.kind, value: v.b },
      };
    case "ruleset.loaded":
      return {
        ...common,
        ruleset: { revision: v.a, commit: v.maybeA },
        previous: v.maybeB,
        trigger: v.b,
        rules: v.count,
      };
    case "ruleset.failed":
      return {
        ...common,
        ruleset: { revision: v.a, commit: v.maybeA },
        trigger: v.b,
        code: v.a,
        message: v.b,
        location: v.maybeB,
      };
    case "audit.verify_failed":
      return { ...common, chain: v.chain, seq: v.seq, problem: v.a, message: v.b };
  }
}

/** What CEF keeps of a string value: the renderer's cut, without trailing spaces and tabs. */
const cefKept = (value: string, max: number) => truncate(value, max).replace(/[ \t]+$/, "");

const runs = { numRuns: 150 };

describe("formats with arbitrary values", () => {
  it("OCSF: one line, the message kept", () => {
    fc.assert(
      fc.property(values, (v) => {
        const event = eventFrom(v);
        const line = ocsfFormatter.render(event);
        expect(line).not.toMatch(/[\r\n]/);
        const parsed = JSON.parse(line);
        expect(parsed.metadata.product.version).toBe(v.version);
        if ("reason" in event) expect(parsed.message).toBe(event.reason);
      }),
      runs,
    );
  });

  it("ECS: one line, valid, the message and file kept", () => {
    fc.assert(
      fc.property(values, (v) => {
        const event = eventFrom(v);
        const line = ecsFormatter.render(event);
        expect(line).not.toMatch(/[\r\n]/);
        const parsed = JSON.parse(line);
        expect(validateEcs(ecs, parsed)).toEqual([]);
        expect(parsed.observer.version).toBe(v.version);
        if ("reason" in event) expect(parsed.message).toBe(event.reason);
        if ("file" in event && event.file.name !== null)
          expect(parsed.file.name).toBe(event.file.name);
      }),
      runs,
    );
  });

  it("CEF: one line, valid, every kept value read back as rendered", () => {
    fc.assert(
      fc.property(values, (v) => {
        const event = eventFrom(v);
        const line = cefFormatter.render(event);
        expect(line).not.toMatch(/[\r\n]/);
        expect(validateCef(cef, line)).toEqual([]);
        const { header, extensions } = parseCef(line);
        const version = v.version.replace(/\r\n|[\r\n]/g, " ");
        expect(header[3]).toBe(truncate(version === "" ? "unknown" : version, 31));
        const read = Object.fromEntries(extensions);
        const expectKept = (key: string, value: string | null, max: number) => {
          const kept = value === null ? "" : cefKept(value, max);
          expect(read[key]).toBe(kept === "" ? undefined : kept);
        };
        expect(read.externalId).toBe(event.id);
        expectKept("request", event.link, 1023);
        if ("reason" in event) expectKept("msg", event.reason, 1023);
        if ("requester" in event) expectKept("suser", event.requester, 1023);
        if ("file" in event) {
          expectKept("fname", event.file.name, 1023);
          expectKept("fileType", event.file.contentType, 1023);
          expect(read.fileHash).toBe(event.file.sha256);
          const size = event.file.size;
          expect(read.fsize).toBe(size !== null && size < 2 ** 31 ? String(size) : undefined);
        }
        if (event.kind === "decision") expectKept("cs1", event.rule, 4000);
        if (event.kind === "review.vote") expectKept("suser", event.voter, 1023);
        if (event.kind === "ruleset.failed") expectKept("msg", event.message, 1023);
      }),
      runs,
    );
  });
});

describe.skipIf(ocsfLocation.repo === null)(
  ocsfSuiteTitle(`OCSF ${OCSF_VERSION} with arbitrary values`, ocsfLocation),
  () => {
    let ocsf: OcsfSchema;
    beforeAll(() => {
      ocsf = loadOcsfSchema(OCSF_VERSION, ocsfLocation.repo!);
    });

    it("OCSF: valid", () => {
      fc.assert(
        fc.property(values, (v) => {
          expect(validateOcsf(ocsf, JSON.parse(ocsfFormatter.render(eventFrom(v))))).toEqual([]);
        }),
        runs,
      );
    });
  },
);
