import { readFileSync } from "node:fs";
import { type AdapterOutcome, type AnalysisResult, validateResult } from "@clearance/result";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toCanonical } from "../src/adapters/detect.js";
import { fromVirusTotal, parseVirusTotalDate } from "../src/adapters/virustotal.js";
import { compile } from "../src/compile.js";

const SHA = "669fcc39fc51b6f09a953a39a8ac9a3cf944083ef2ce9563b483c6297ff52601";
const OTHER = "b".repeat(64);

const REAL = JSON.parse(
  readFileSync(new URL("../../../examples/virustotal/clean-signed.json", import.meta.url), "utf8"),
) as { data: { attributes: Record<string, unknown> } };

/** A VirusTotal object with the given attributes (sha256 added unless present). */
function vt(attributes: Record<string, unknown>): unknown {
  return { data: { id: SHA, type: "file", attributes: { sha256: SHA, ...attributes } } };
}

function mapped(input: unknown): { result: AnalysisResult; warnings: string[] } {
  const outcome = fromVirusTotal(input);
  if (!outcome.ok) throw new Error(`expected ok, got ${JSON.stringify(outcome.problems)}`);
  return outcome;
}

const SIGNER_DETAILS = {
  name: "Contoso Ltd",
  status: "Valid",
  "valid from": "12:00 AM 01/01/2026",
  "valid to": "11:59 PM 12/31/2026",
  "cert issuer": "DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1",
  thumbprint: "AA11BB22",
};

describe("fromVirusTotal: shapes", () => {
  const cases: [string, unknown, string][] = [
    ["data envelope", vt({}), SHA],
    ["bare {id, type, attributes}", { id: SHA, type: "file", attributes: { sha256: SHA } }, SHA],
    ["bare attributes object", { sha256: SHA, size: 3 }, SHA],
    ["id when attributes has no sha256", { data: { id: SHA, type: "file", attributes: {} } }, SHA],
    ["id when data has no attributes", { data: { id: SHA.toUpperCase() } }, SHA],
    ["upper-case sha256 is lowered", { sha256: SHA.toUpperCase() }, SHA],
    [
      "attributes.sha256 wins over a different id",
      { data: { id: OTHER, attributes: { sha256: SHA } } },
      SHA,
    ],
    [
      "invalid attributes.sha256 falls back to id",
      { data: { id: SHA, attributes: { sha256: "x" } } },
      SHA,
    ],
  ];
  it.each(cases)("%s", (_name, input, sha256) => {
    expect(mapped(input).result.sha256).toBe(sha256);
  });

  const failures: [string, unknown, string, string][] = [
    ["null", null, "", "expected a VirusTotal file object, got null"],
    ["an array", [vt({})], "", "expected a VirusTotal file object, got an array"],
    ["a string", "{}", "", "expected a VirusTotal file object, got a string"],
    ["data is an array", { data: [{}] }, "/data", "expected an object, got an array"],
    [
      "no sha256 anywhere",
      { data: { id: "abc", attributes: { size: 1 } } },
      "/data/attributes/sha256",
      "no SHA-256 found: expected 64 hexadecimal digits in `data.attributes.sha256` or `data.id`",
    ],
    [
      "bare attributes without sha256",
      { last_analysis_stats: {} },
      "/sha256",
      "no SHA-256 found: expected 64 hexadecimal digits in `sha256`",
    ],
  ];
  it.each(failures)("fails on %s", (_name, input, pointer, message) => {
    expect(fromVirusTotal(input)).toEqual({ ok: false, problems: [{ pointer, message }] });
  });

  it("warns about a non-file object type and an id mismatch", () => {
    const { warnings } = mapped({ data: { id: OTHER, type: "url", attributes: { sha256: SHA } } });
    expect(warnings).toEqual([
      "`data.type` is `url`, expected `file`",
      "`data.id` differs from `data.attributes.sha256`: used `data.attributes.sha256`",
    ]);
  });
});

describe("fromVirusTotal: field mappings", () => {
  const cases: [string, Record<string, unknown>, Partial<AnalysisResult>][] = [
    [
      "stats: failure + timeout + confirmed-timeout -> failed, type-unsupported -> unsupported",
      {
        last_analysis_stats: {
          malicious: 3,
          suspicious: 1,
          undetected: 50,
          harmless: 2,
          failure: 1,
          timeout: 2,
          "confirmed-timeout": 1,
          "type-unsupported": 4,
        },
      },
      {
        detections: {
          malicious: 3,
          suspicious: 1,
          undetected: 50,
          harmless: 2,
          failed: 4,
          unsupported: 4,
        },
      },
    ],
    [
      "engines: category mapping, name fallback, result, version",
      {
        last_analysis_results: {
          Kaspersky: {
            engine_name: "Kaspersky",
            engine_version: "22.0.1.28",
            category: "malicious",
            result: "HEUR:Trojan.Win32.Generic",
          },
          Bkav: { engine_name: "Bkav Pro", category: "type-unsupported", result: null },
          CMC: { category: "timeout", result: null },
          Zillya: { category: "confirmed-timeout", result: null, engine_version: 2 },
          Panda: { category: "failure" },
        },
        last_analysis_stats: { malicious: 1 },
      },
      {
        detections: { malicious: 1 },
        engines: [
          {
            engine: "Kaspersky",
            category: "malicious",
            result: "HEUR:Trojan.Win32.Generic",
            version: "22.0.1.28",
          },
          { engine: "Bkav Pro", category: "unsupported", result: null },
          { engine: "CMC", category: "failed", result: null },
          { engine: "Zillya", category: "failed", result: null, version: "2" },
          { engine: "Panda", category: "failed" },
        ],
      },
    ],
    [
      "detections derived from engines when stats are missing",
      {
        last_analysis_results: {
          A: { category: "malicious", result: "x" },
          B: { category: "undetected", result: null },
          C: { category: "timeout", result: null },
        },
      },
      { detections: { malicious: 1, undetected: 1, failed: 1 } },
    ],
    [
      "epoch dates -> RFC 3339",
      { first_submission_date: 1795690800, last_analysis_date: "1795694400" },
      { firstSeen: "2026-11-26T11:00:00Z", analyzedAt: "2026-11-26T12:00:00Z" },
    ],
    [
      "meaningful_name, size, tags, type_description",
      {
        meaningful_name: "setup.exe",
        names: ["a.exe"],
        size: 1024,
        tags: ["peexe", "signed"],
        type_description: "Win32 EXE",
      },
      { fileName: "setup.exe", fileSize: 1024, tags: ["peexe", "signed"], category: "Win32 EXE" },
    ],
    [
      "names fallback skips empty and non-string names",
      { names: ["", 7, "b.dll", "c.dll"] },
      { fileName: "b.dll" },
    ],
    [
      "empty meaningful_name falls back to names",
      { meaningful_name: "", names: ["n.exe"] },
      { fileName: "n.exe" },
    ],
    [
      "contentType from mime_type",
      { mime_type: "application/pdf" },
      { contentType: "application/pdf" },
    ],
    [
      "contentType from exiftool",
      { exiftool: { MIMEType: "application/zip" } },
      { contentType: "application/zip" },
    ],
    ["size as a digit string", { size: "2048" }, { fileSize: 2048 }],
  ];
  it.each(cases)("%s", (_name, attributes, expected) => {
    expect(mapped(vt(attributes)).result).toMatchObject(expected);
  });

  it("maps the real example exactly", () => {
    const { result, warnings } = mapped(REAL);
    expect(warnings).toEqual([]);
    const { engines, ...rest } = result;
    expect(rest).toEqual({
      sha256: SHA,
      fileName: "Git-2.47.1-64-bit.exe",
      fileSize: 68420512,
      category: "Win32 EXE",
      detections: {
        malicious: 0,
        suspicious: 0,
        undetected: 25,
        harmless: 1,
        failed: 1,
        unsupported: 1,
      },
      vendor: { name: "Johannes Schindelin", verified: true, product: "Git", version: "2.47.1" },
      signature: {
        status: "valid",
        signer: "Johannes Schindelin",
        issuer: "Sectigo Public Code Signing CA R36",
        thumbprint: "35CAE7C7B374DF7C044738E9BB4EAA212003F396",
        signedAt: "2026-05-12T10:12:00Z",
      },
      firstSeen: "2026-05-12T17:03:22Z",
      analyzedAt: "2026-11-24T08:16:40Z",
      tags: ["peexe", "signed", "64bits", "overlay", "installer"],
      virustotal: {
        reputation: 12,
        votes: { harmless: 9, malicious: 0 },
        timesSubmitted: 214,
        names: ["Git-2.47.1-64-bit.exe", "git-installer.exe"],
      },
    });
    expect(engines).toHaveLength(28);
    expect(engines?.[0]).toEqual({
      engine: "Bkav",
      category: "unsupported",
      result: null,
      version: "2.0.0.1",
    });
  });

  it("never invents trustScore, verdict, scoreBreakdown, or absent fields", () => {
    const { result } = mapped(REAL);
    for (const key of ["trustScore", "verdict", "scoreBreakdown", "contentType"]) {
      expect(result).not.toHaveProperty(key);
    }
    expect(mapped({ sha256: SHA }).result).toEqual({ sha256: SHA });
  });

  it("does not mutate its input", () => {
    const input = structuredClone(REAL);
    const deepFreeze = (v: unknown): void => {
      if (v && typeof v === "object") {
        Object.values(v).forEach(deepFreeze);
        Object.freeze(v);
      }
    };
    deepFreeze(input);
    expect(() => fromVirusTotal(input)).not.toThrow();
    expect(input).toEqual(REAL);
  });
});

/** Status texts exactly as VirusTotal copies them from sigcheck (see docs/virustotal.md). */
const TEXT = {
  revoked: "A certificate was explicitly revoked by its issuer.",
  chainRevoked:
    "Trust for this certificate or one of the certificates in the certificate chain has been revoked.",
  distrusted:
    "The certificate or one of the certificates in the certificate chain is explicitly distrusted.",
  markedUntrusted: "The certificate was explicitly marked as untrusted by the user.",
  untrustedRoot:
    "A certificate chain processed, but terminated in a root certificate which is not trusted by the trust provider.",
  notTimeValid:
    "This certificate or one of the certificates in the certificate chain is not time valid.",
  notWithinPeriod:
    "A required certificate is not within its validity period when verifying against the current system clock or the timestamp in the signed file.",
  badDigest: "The digital signature of the object did not verify.",
} as const;

/** A leaf certificate valid through 2024, as in the googet.exe report cited in docs/virustotal.md. */
const LEAF_2024 = {
  ...SIGNER_DETAILS,
  status: TEXT.notTimeValid,
  "valid from": "12:00 AM 07/02/2021",
  "valid to": "11:59 PM 07/10/2024",
};
const COUNTER = [
  { status: "Valid", name: "DigiCert Timestamp 2023", "valid usage": "Timestamp Signing" },
];

describe("fromVirusTotal: signature status, one case per row of docs/virustotal.md", () => {
  const rows: [string, string, Record<string, unknown>, AnalysisResult["signature"]][] = [
    [
      "1",
      "revoked in `verified` -> invalid",
      {
        signature_info: {
          verified: TEXT.revoked,
          signers: "Shady Co",
          "signers details": [
            {
              name: "Shady Co",
              status: "Revoked",
              "cert issuer": "Sectigo Public Code Signing CA R36",
            },
          ],
        },
      },
      { status: "invalid", signer: "Shady Co", issuer: "Sectigo Public Code Signing CA R36" },
    ],
    [
      "1",
      "revoked in a signer status while `verified` reads Signed -> invalid",
      {
        signature_info: {
          verified: "Signed",
          "signers details": [{ ...SIGNER_DETAILS, status: TEXT.chainRevoked }],
        },
      },
      {
        status: "invalid",
        signer: "Contoso Ltd",
        issuer: SIGNER_DETAILS["cert issuer"],
        thumbprint: "AA11BB22",
      },
    ],
    [
      "1",
      "revoked in a counter-signer status, with expiry wording too -> invalid",
      {
        signature_info: {
          verified: "Signed",
          "signers details": [{ ...SIGNER_DETAILS, status: TEXT.notTimeValid }],
          "counter signers details": [
            { name: "TSA", status: `${TEXT.notTimeValid}, ${TEXT.chainRevoked}` },
          ],
        },
      },
      {
        status: "invalid",
        signer: "Contoso Ltd",
        issuer: SIGNER_DETAILS["cert issuer"],
        thumbprint: "AA11BB22",
      },
    ],
    [
      "1",
      "tag `revoked-cert` while everything reads Signed/Valid -> invalid",
      {
        tags: ["peexe", "signed", "revoked-cert"],
        signature_info: { verified: "Signed", "signers details": [SIGNER_DETAILS] },
      },
      {
        status: "invalid",
        signer: "Contoso Ltd",
        issuer: SIGNER_DETAILS["cert issuer"],
        thumbprint: "AA11BB22",
      },
    ],
    [
      "1",
      "revocation could not be checked, in `verified` -> invalid",
      {
        signature_info: {
          verified:
            "The revocation process could not continue - the certificate(s) could not be checked.",
          signers: "A Corp; B CA",
        },
      },
      { status: "invalid", signer: "A Corp", issuer: "B CA" },
    ],
    [
      "2",
      "explicitly distrusted while Signed -> invalid",
      {
        signature_info: {
          verified: "Signed",
          "signers details": [{ ...SIGNER_DETAILS, status: TEXT.distrusted }],
        },
      },
      {
        status: "invalid",
        signer: "Contoso Ltd",
        issuer: SIGNER_DETAILS["cert issuer"],
        thumbprint: "AA11BB22",
      },
    ],
    [
      "2",
      "marked as untrusted, even for a self-issued certificate -> invalid",
      {
        signature_info: {
          verified: TEXT.markedUntrusted,
          "signers details": [{ name: "Dev", "cert issuer": "Dev" }],
        },
      },
      { status: "invalid", signer: "Dev", issuer: "Dev" },
    ],
    [
      "3",
      "an untrusted root issued by the signer itself -> self_signed",
      {
        signature_info: {
          verified: TEXT.untrustedRoot,
          "signers details": [
            { name: "Contoso DevOps", "cert issuer": "Contoso DevOps", thumbprint: "FF" },
          ],
        },
      },
      {
        status: "self_signed",
        signer: "Contoso DevOps",
        issuer: "Contoso DevOps",
        thumbprint: "FF",
      },
    ],
    [
      "3",
      "an untrusted root with a different issuer -> invalid",
      {
        signature_info: {
          verified: TEXT.untrustedRoot,
          "signers details": [{ name: "X", "cert issuer": "Y" }],
        },
      },
      { status: "invalid", signer: "X", issuer: "Y" },
    ],
    [
      "3",
      "an untrusted root in a signer status while Signed -> invalid, never valid",
      {
        signature_info: {
          verified: "Signed",
          "signers details": [{ ...SIGNER_DETAILS, status: TEXT.untrustedRoot }],
        },
      },
      {
        status: "invalid",
        signer: "Contoso Ltd",
        issuer: SIGNER_DETAILS["cert issuer"],
        thumbprint: "AA11BB22",
      },
    ],
    [
      "4",
      "tag `invalid-signature` while Signed -> invalid",
      {
        tags: ["invalid-signature"],
        signature_info: { verified: "Signed", signers: "A Corp; B CA" },
      },
      { status: "invalid", signer: "A Corp", issuer: "B CA" },
    ],
    [
      "5",
      "no `verified` -> unsigned",
      { signature_info: { product: "Widget", "file version": "1.2.3" } },
      { status: "unsigned" },
    ],
    ["5", "empty signature_info -> unsigned", { signature_info: {} }, { status: "unsigned" }],
    [
      "6",
      '"Unsigned" -> unsigned, signer details dropped',
      { signature_info: { verified: "Unsigned", signers: "Ignored" } },
      { status: "unsigned" },
    ],
    [
      "7",
      '"not within its validity period" -> expired, as "not time valid" is',
      {
        signature_info: {
          verified: TEXT.notWithinPeriod,
          "signers details": [{ ...SIGNER_DETAILS, status: TEXT.notTimeValid }],
          "counter signers": "TSA",
        },
      },
      {
        status: "expired",
        signer: "Contoso Ltd",
        issuer: SIGNER_DETAILS["cert issuer"],
        thumbprint: "AA11BB22",
      },
    ],
    [
      "8",
      "any other problem text -> invalid",
      { signature_info: { verified: TEXT.badDigest, signers: "A Corp; B CA" } },
      { status: "invalid", signer: "A Corp", issuer: "B CA" },
    ],
    [
      "9",
      "Signed, signing date outside the leaf's validity (x509 dates) -> expired",
      {
        signature_info: {
          verified: "Signed",
          "signers details": [{ name: "Contoso Ltd", status: "Valid", "cert issuer": "CA" }],
          x509: [
            {
              name: "CA",
              "cert issuer": "Root",
              "valid from": "2020-01-01 00:00:00",
              "valid to": "2030-01-01 00:00:00",
            },
            {
              name: "Contoso Ltd",
              "cert issuer": "CA",
              "valid from": "2024-01-01 00:00:00",
              "valid to": "2025-01-01 00:00:00",
            },
          ],
          "signing date": "2026-02-01 10:00:00",
        },
      },
      { status: "expired", signer: "Contoso Ltd", issuer: "CA", signedAt: "2026-02-01T10:00:00Z" },
    ],
    [
      "10",
      "Signed, leaf expired since, timestamped within its validity -> valid",
      {
        signature_info: {
          verified: "Signed",
          "signing date": "11:10 PM 04/22/2024",
          "signers details": [LEAF_2024],
          "counter signers details": COUNTER,
        },
      },
      {
        status: "valid",
        signer: "Contoso Ltd",
        issuer: SIGNER_DETAILS["cert issuer"],
        thumbprint: "AA11BB22",
        signedAt: "2024-04-22T23:10:00Z",
      },
    ],
    [
      "11",
      "Signed, leaf not time valid, no timestamp -> expired",
      {
        signature_info: {
          verified: "Signed",
          "signing date": "11:10 PM 04/22/2024",
          "signers details": [LEAF_2024],
        },
      },
      {
        status: "expired",
        signer: "Contoso Ltd",
        issuer: SIGNER_DETAILS["cert issuer"],
        thumbprint: "AA11BB22",
        signedAt: "2024-04-22T23:10:00Z",
      },
    ],
    [
      "11",
      "Signed, leaf not time valid, timestamped but no signing date -> expired",
      {
        signature_info: {
          verified: "Signed",
          "signers details": [LEAF_2024],
          "counter signers": "DigiCert Timestamp 2023",
        },
      },
      {
        status: "expired",
        signer: "Contoso Ltd",
        issuer: SIGNER_DETAILS["cert issuer"],
        thumbprint: "AA11BB22",
      },
    ],
    [
      "12",
      "Signed with valid statuses -> valid",
      {
        signature_info: {
          verified: "Signed",
          signers:
            "Contoso Ltd; DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1; DigiCert Trusted Root G4",
          "signers details": [SIGNER_DETAILS],
          "signing date": "03:15 PM 06/02/2026",
        },
      },
      {
        status: "valid",
        signer: "Contoso Ltd",
        issuer: "DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1",
        thumbprint: "AA11BB22",
        signedAt: "2026-06-02T15:15:00Z",
      },
    ],
    ["13", "PE without signature_info -> unsigned", { type_tag: "peexe" }, { status: "unsigned" }],
    [
      "13",
      "MSI without signature_info (by type_description) -> unsigned",
      { type_description: "Windows Installer" },
      { status: "unsigned" },
    ],
    [
      "13",
      "Mach-O without signature_info -> unsigned",
      { type_tag: "macho" },
      { status: "unsigned" },
    ],
    [
      "13",
      "PE without signature_info, tagged revoked-cert -> invalid",
      { type_tag: "pedll", tags: ["revoked-cert"] },
      { status: "invalid" },
    ],
    ["14", "ELF without signature_info -> absent", { type_tag: "elf" }, undefined],
    ["14", "PDF without signature_info -> absent", { type_description: "PDF" }, undefined],
    ["15", "unknown type without signature_info -> absent", {}, undefined],
  ];
  it.each(rows)("row %s: %s", (_row, _name, attributes, signature) => {
    expect(mapped(vt(attributes)).result.signature).toEqual(signature);
  });

  it("says why a format that cannot be signed has no signature", () => {
    expect(mapped(vt({ type_tag: "elf" })).warnings).toEqual([
      "no `signature`: VirusTotal reports code signatures only for PE, MSI and Mach-O files, not `elf`",
    ]);
    expect(mapped(vt({ type_tag: "peexe" })).warnings).toEqual([]);
  });

  it("warns when signers are listed without `verified`", () => {
    const { result, warnings } = mapped(vt({ signature_info: { signers: "A Corp" } }));
    expect(result.signature).toEqual({ status: "unsigned" });
    expect(warnings).toContain(
      "`data.attributes.signature_info.verified` is missing: treated as unsigned although signers are listed",
    );
  });

  it("warns when the signing date falls outside the leaf's validity", () => {
    const { warnings } = mapped(
      vt({
        signature_info: {
          verified: "Signed",
          "signing date": "2026-02-01 10:00:00",
          "signers details": [{ name: "A", "valid from": "2024-01-01", "valid to": "2025-01-01" }],
        },
      }),
    );
    expect(warnings).toEqual([
      "the signing certificate in `data.attributes.signature_info` was not valid at the signing date",
    ]);
  });

  it("checks the signing date against the leaf only, not a cross-certificate issued later", () => {
    const { result } = mapped(
      vt({
        signature_info: {
          verified: "Signed",
          "signing date": "2021-09-01 00:00:00",
          "signers details": [
            {
              name: "Leaf",
              "cert issuer": "CA",
              "valid from": "2021-07-02",
              "valid to": "2024-07-10",
            },
            {
              name: "CA",
              "cert issuer": "Root",
              "valid from": "2022-08-01",
              "valid to": "2031-11-09",
            },
          ],
        },
      }),
    );
    expect(result.signature?.status).toBe("valid");
  });
});

describe("fromVirusTotal: the examples of docs/virustotal.md", () => {
  const example = (name: string): unknown =>
    JSON.parse(
      readFileSync(new URL(`../../../examples/virustotal/${name}`, import.meta.url), "utf8"),
    );

  it("signed-timestamped.json: leaf expired since, timestamped while valid -> valid", () => {
    const { result, warnings } = mapped(example("signed-timestamped.json"));
    expect(warnings).toEqual([]);
    expect(result.fileName).toBe("contoso-agent.exe");
    expect(result.signature).toEqual({
      status: "valid",
      signer: "Contoso Ltd",
      issuer: "DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1",
      thumbprint: "5D1E6A0C3B2F49A8C7E1D0F2B3A4958677A1C2D3",
      signedAt: "2024-04-22T23:10:00Z",
    });
    expect(result.vendor).toEqual({
      name: "Contoso Ltd",
      verified: true,
      product: "Contoso Agent",
      version: "2.4.1",
    });
  });

  it("signed-revoked.json: Signed over a revoked leaf -> invalid", () => {
    const { result, warnings } = mapped(example("signed-revoked.json"));
    expect(warnings).toEqual([]);
    expect(result.fileName).toBe("driver_update.exe");
    expect(result.signature).toEqual({
      status: "invalid",
      signer: "Fabrikam Soft Co.,Ltd.",
      issuer: "Sectigo Public Code Signing CA R36",
      thumbprint: "9C0E5B7A1D2F3E4A5B6C7D8E9F0A1B2C3D4E5F60",
      signedAt: "2026-03-03T09:41:00Z",
    });
    expect(result.vendor).toEqual({
      name: "Fabrikam Soft Co.,Ltd.",
      verified: false,
      product: "Driver Update Utility",
      version: "1.0.3.0",
    });
  });
});

describe("fromVirusTotal: the leaf certificate, whatever the order", () => {
  const ROOT = { name: "Apple Root CA", "cert issuer": "Apple Root CA", thumbprint: "ROOT" };
  const INTERMEDIATE = {
    name: "Developer ID Certification Authority",
    "cert issuer": "Apple Root CA",
    thumbprint: "MID",
  };
  const LEAF = {
    name: "Developer ID Application: Contoso (ABCDE12345)",
    "cert issuer": "Developer ID Certification Authority",
    thumbprint: "LEAF",
  };
  const expected = {
    status: "valid",
    signer: LEAF.name,
    issuer: "Developer ID Certification Authority",
    thumbprint: "LEAF",
  };
  const cases: [string, Record<string, unknown>][] = [
    [
      "Mach-O chain root first, `signers` root first",
      {
        verified: "Signed",
        signers: `${ROOT.name}; ${INTERMEDIATE.name}; ${LEAF.name}`,
        "signers details": [ROOT, INTERMEDIATE, LEAF],
      },
    ],
    [
      "leaf in the middle, no `signers`",
      { verified: "Signed", "signers details": [INTERMEDIATE, LEAF, ROOT] },
    ],
    ["leaf first", { verified: "Signed", "signers details": [LEAF, INTERMEDIATE, ROOT] }],
    [
      "only `x509`, CA first and a timestamping certificate beside the leaf",
      {
        verified: "Signed",
        signers: `${LEAF.name}; ${INTERMEDIATE.name}`,
        x509: [
          INTERMEDIATE,
          {
            name: "TSA",
            "cert issuer": "TSA CA",
            "valid usage": "Timestamp Signing",
            thumbprint: "TSA",
          },
          LEAF,
          ROOT,
        ],
      },
    ],
    [
      "only `x509` without `signers`: the timestamping certificate is not the leaf",
      {
        verified: "Signed",
        x509: [
          {
            name: "TSA",
            "cert issuer": "TSA CA",
            "valid usage": "Timestamp Signing",
            thumbprint: "TSA",
          },
          INTERMEDIATE,
          LEAF,
        ],
      },
    ],
  ];
  it.each(cases)("%s", (_name, info) => {
    const { result } = mapped(vt({ type_tag: "macho", signature_info: info }));
    expect(result.signature).toEqual(expected);
    expect(result.vendor).toEqual({ name: LEAF.name, verified: true });
  });

  it("issuer from the second name of `signers` when no certificate is listed", () => {
    const { result } = mapped(
      vt({ signature_info: { verified: "Signed", signers: "A Corp;  B CA  ; Root" } }),
    );
    expect(result.signature).toEqual({ status: "valid", signer: "A Corp", issuer: "B CA" });
  });
});

describe("fromVirusTotal: vendor and file name", () => {
  const cases: [string, Record<string, unknown>, AnalysisResult["vendor"]][] = [
    [
      "unsigned: name from exiftool CompanyName, product and version from signature_info",
      {
        type_tag: "peexe",
        exiftool: { CompanyName: "Contoso Ltd", ProductName: "Other", FileVersion: "9" },
        signature_info: { product: "Widget", "file version": "1.2.3", copyright: "(c) Contoso" },
      },
      { name: "Contoso Ltd", verified: false, product: "Widget", version: "1.2.3" },
    ],
    [
      "unsigned without signature_info: everything from exiftool",
      {
        type_tag: "peexe",
        exiftool: { CompanyName: "Contoso Ltd", ProductName: "Widget", FileVersion: "1.0" },
      },
      { name: "Contoso Ltd", verified: false, product: "Widget", version: "1.0" },
    ],
    [
      "signed: the signer, not the company",
      {
        exiftool: { CompanyName: "Someone Else" },
        signature_info: { verified: "Signed", signers: "Contoso Ltd; CA" },
      },
      { name: "Contoso Ltd", verified: true },
    ],
    [
      "expired: the signer, not verified",
      {
        signature_info: { verified: TEXT.notWithinPeriod, signers: "Contoso Ltd; CA" },
      },
      { name: "Contoso Ltd", verified: false },
    ],
    ["`company` is not a VirusTotal field", { signature_info: { company: "Ignored" } }, undefined],
  ];
  it.each(cases)("%s", (_name, attributes, vendor) => {
    expect(mapped(vt(attributes)).result.vendor).toEqual(vendor);
  });

  const names: [string, Record<string, unknown>, string | undefined][] = [
    ["Windows path", { meaningful_name: "C:\\ProgramData\\GooGet\\googet.exe" }, "googet.exe"],
    ["POSIX path", { meaningful_name: "/tmp/pip-install-x1/setuptools/cli-32.exe" }, "cli-32.exe"],
    ["doubled backslashes", { meaningful_name: "C:\\\\ProgramData\\\\googet.exe" }, "googet.exe"],
    ["mixed separators", { meaningful_name: "c:\\users/all users\\a b.exe" }, "a b.exe"],
    [
      "a directory name falls back to `names`",
      { meaningful_name: "C:\\temp\\", names: ["/x/", "/tmp/y.dll"] },
      "y.dll",
    ],
    ["a bare name stays", { meaningful_name: "setup.exe" }, "setup.exe"],
  ];
  it.each(names)("fileName: %s", (_name, attributes, fileName) => {
    expect(mapped(vt(attributes)).result.fileName).toBe(fileName);
  });
});

describe("fromVirusTotal: the virustotal section", () => {
  // [name, attributes, expected section, expected warnings]
  const cases: [string, Record<string, unknown>, AnalysisResult["virustotal"], string[]][] = [
    ["nothing VirusTotal-specific", {}, undefined, []],
    ["negative reputation", { reputation: -48 }, { reputation: -48 }, []],
    [
      "reputation as text",
      { reputation: "bad" },
      undefined,
      ["skipped `data.attributes.reputation`: expected an integer, got a string"],
    ],
    [
      "votes, one of them unreadable",
      { total_votes: { harmless: 3, malicious: "x" } },
      { votes: { harmless: 3 } },
      [
        "skipped `data.attributes.total_votes.malicious`: expected a non-negative integer, got a string",
      ],
    ],
    [
      "threat classification, a ranked item without value",
      {
        popular_threat_classification: {
          suggested_threat_label: "trojan.orcusrat/msil",
          popular_threat_category: [{ value: "trojan", count: 21 }, { count: 2 }],
          popular_threat_name: [{ value: "orcusrat", count: 12 }, "msil"],
        },
      },
      {
        threatLabel: "trojan.orcusrat/msil",
        threatCategories: [{ name: "trojan", count: 21 }],
        threatNames: [{ name: "orcusrat", count: 12 }],
      },
      [
        "skipped `data.attributes.popular_threat_classification.popular_threat_category[1]`: it has no `value`",
        "skipped `data.attributes.popular_threat_classification.popular_threat_name[1]`: expected an object, got a string",
      ],
    ],
    [
      "known distributors, renamed",
      {
        known_distributors: {
          distributors: ["Linux"],
          filenames: ["cli-32.exe"],
          products: ["debian-12"],
          data_sources: ["HashDB", 7],
        },
      },
      {
        knownDistributors: {
          distributors: ["Linux"],
          products: ["debian-12"],
          fileNames: ["cli-32.exe"],
          sources: ["HashDB"],
        },
      },
      [
        "skipped `data.attributes.known_distributors.data_sources[1]`: expected a string, got a number",
      ],
    ],
    [
      "YARA matches; one without a rule name",
      {
        crowdsourced_yara_results: [
          {
            rule_name: "Agenttesla_type2",
            ruleset_name: "rule",
            ruleset_id: "004629696d",
            source: "https://github.com/JPCERTCC/MalConfScan",
            author: "JPCERT/CC Incident Response Group",
            description: "detect Agenttesla in memory",
            match_date: 1722226971,
          },
          { ruleset_name: "orphan" },
        ],
      },
      {
        yaraMatches: [
          {
            rule: "Agenttesla_type2",
            ruleset: "rule",
            source: "https://github.com/JPCERTCC/MalConfScan",
            author: "JPCERT/CC Incident Response Group",
            description: "detect Agenttesla in memory",
          },
        ],
      },
      ["skipped `data.attributes.crowdsourced_yara_results[1]`: it has no `rule_name`"],
    ],
    [
      "an empty list stays empty, not unknown",
      { crowdsourced_yara_results: [] },
      { yaraMatches: [] },
      [],
    ],
    [
      "Sigma matches; one whose level is outside the enum is skipped",
      {
        sigma_analysis_results: [
          { rule_level: "High", rule_title: "A", rule_source: "S", rule_id: "1" },
          { rule_level: "severe", rule_title: "B" },
        ],
      },
      {
        sigmaMatches: [{ level: "high", title: "A", source: "S", id: "1" }],
      },
      [
        "skipped `data.attributes.sigma_analysis_results[1]`: its `rule_level` `severe` is not one of `critical`, `high`, `medium`, `low`",
      ],
    ],
    [
      "IDS alerts",
      {
        crowdsourced_ids_results: [
          {
            rule_category: "Potentially Bad Traffic",
            alert_severity: "low",
            rule_msg: "ET DNS Query to a *.top domain - Likely Hostile",
            rule_id: "1:2023883",
            rule_source: "Proofpoint Emerging Threats Open",
            alert_context: [{ dest_ip: "8.8.8.8", dest_port: 53 }],
          },
        ],
      },
      {
        idsAlerts: [
          {
            message: "ET DNS Query to a *.top domain - Likely Hostile",
            severity: "low",
            category: "Potentially Bad Traffic",
            source: "Proofpoint Emerging Threats Open",
            id: "1:2023883",
          },
        ],
      },
      [],
    ],
    [
      "sandbox verdicts, keyed by sandbox, in VirusTotal's order",
      {
        sandbox_verdicts: {
          Zenbox: {
            category: "malicious",
            confidence: 100,
            sandbox_name: "Zenbox",
            malware_classification: ["MALWARE", "RAT"],
            malware_names: ["Orcus"],
          },
          "CAPE Sandbox": { category: "harmless", confidence: 140 },
          Broken: "yes",
          "No verdict": { sandbox_name: "No verdict", confidence: 10 },
        },
      },
      {
        sandboxVerdicts: [
          {
            sandbox: "Zenbox",
            category: "malicious",
            confidence: 100,
            classifications: ["MALWARE", "RAT"],
            malwareNames: ["Orcus"],
          },
          { sandbox: "CAPE Sandbox", category: "harmless" },
        ],
      },
      [
        "skipped `data.attributes.sandbox_verdicts.CAPE Sandbox.confidence`: `140` is over 100",
        "skipped `data.attributes.sandbox_verdicts.Broken`: expected an object, got a string",
        "skipped `data.attributes.sandbox_verdicts.No verdict`: it has no `category`",
      ],
    ],
    [
      "GTI assessment, unwrapped and without prefixes",
      {
        gti_assessment: {
          verdict: { value: "VERDICT_MALICIOUS" },
          severity: { value: "SEVERITY_LOW" },
          threat_score: { value: 35 },
          contributing_factors: { mandiant_confidence_score: 14 },
        },
      },
      { gti: { verdict: "malicious", severity: "low", threatScore: 35 } },
      [],
    ],
    [
      "GTI assessment with an unknown verdict",
      { gti_assessment: { verdict: { value: "VERDICT_WEIRD" }, threat_score: 1 } },
      undefined,
      [
        "skipped `data.attributes.gti_assessment.verdict.value`: `VERDICT_WEIRD` is not one of `malicious`, `suspicious`, `undetected`, `benign`, `unknown`",
        "skipped `data.attributes.gti_assessment.threat_score`: expected an object, got a number",
      ],
    ],
    [
      "submissions and names, directories kept",
      { times_submitted: 861, unique_sources: 4, names: ["C:\\Temp\\a.exe", "", 3] },
      { timesSubmitted: 861, uniqueSources: 4, names: ["C:\\Temp\\a.exe"] },
      ["skipped `data.attributes.names[2]`: expected a string, got a number"],
    ],
  ];
  it.each(cases)("%s", (_name, attributes, expected, warnings) => {
    const outcome = mapped(vt(attributes));
    expect(outcome.result.virustotal).toEqual(expected);
    expect(outcome.warnings).toEqual(warnings);
    // what the adapter produces always passes the canonical schema
    expect(validateResult(outcome.result).ok).toBe(true);
  });

  it.each([
    ['any m in virustotal.sigmaMatches: m.level == "severe"', "`severe` is not a possible value"],
    ["virustotal.reputaton < 0", "did you mean `reputation`?"],
    ['virustotal.gti.verdict == "VERDICT_MALICIOUS"', "allowed: `malicious`, `suspicious`"],
    // the fields every item has are required, so reading them needs no `exists` guard
    ['any m in virustotal.sigmaMatches: m.level == "critical"', "[]"],
    ['count(s in virustotal.sandboxVerdicts where s.category == "malicious") >= 2', "[]"],
    ['any a in virustotal.idsAlerts: a.severity == "high"', "[]"],
  ])("the checker knows the section: `%s`", (condition, expected) => {
    const { diagnostics } = compile([
      { path: "test.rules", text: `rule r { when ${condition} deny "x" }\n` },
    ]);
    expect(JSON.stringify(diagnostics)).toContain(expected);
  });
});

describe("fromVirusTotal: messy values are skipped with a warning", () => {
  const cases: [string, Record<string, unknown>, Partial<AnalysisResult>, string[]][] = [
    [
      "size as text",
      { size: "big" },
      {},
      ["skipped `data.attributes.size`: expected a non-negative integer, got a string"],
    ],
    [
      "size as a digit string",
      { size: "12" },
      { fileSize: 12 },
      ["read `data.attributes.size` from a string"],
    ],
    [
      "negative size",
      { size: -1 },
      {},
      ["skipped `data.attributes.size`: expected a non-negative integer, got a number"],
    ],
    [
      "stats as an array",
      { last_analysis_stats: [1, 2] },
      {},
      ["skipped `data.attributes.last_analysis_stats`: expected an object, got an array"],
    ],
    [
      "unknown and wrong-typed stats",
      { last_analysis_stats: { malicious: "2", weird: 1, harmless: null, suspicious: true } },
      { detections: { malicious: 2 } },
      [
        "read `data.attributes.last_analysis_stats.malicious` from a string",
        "ignored unknown key `weird` in `data.attributes.last_analysis_stats`",
        "skipped `data.attributes.last_analysis_stats.suspicious`: expected a non-negative integer, got a boolean",
      ],
    ],
    [
      "engine entry not an object, result a number, unknown category",
      { last_analysis_results: { A: "clean", B: { category: "quarantined", result: 3 } } },
      { engines: [{ engine: "B", category: "quarantined" }] },
      [
        "skipped `data.attributes.last_analysis_results.A`: expected an object, got a string",
        "kept unknown category `quarantined` of `data.attributes.last_analysis_results.B`",
        "skipped `data.attributes.last_analysis_results.B.result`: expected a string or null, got a number",
      ],
    ],
    [
      "dates that cannot be read",
      { first_submission_date: "yesterday", last_analysis_date: -5 },
      {},
      [
        "skipped `data.attributes.first_submission_date`: expected epoch seconds, got a string",
        "skipped `data.attributes.last_analysis_date`: `-5` is out of range for epoch seconds",
      ],
    ],
    [
      "tags with non-strings",
      { tags: ["a", null, 3] },
      { tags: ["a"] },
      [
        "skipped `data.attributes.tags[1]`: expected a string, got null",
        "skipped `data.attributes.tags[2]`: expected a string, got a number",
      ],
    ],
    [
      "names not an array",
      { names: "a.exe" },
      {},
      ["skipped `data.attributes.names`: expected an array, got a string"],
    ],
    [
      "signature_info as a string",
      { signature_info: "Signed" },
      {},
      ["skipped `data.attributes.signature_info`: expected an object, got a string"],
    ],
    [
      "unreadable signing date and signers details",
      {
        signature_info: {
          verified: "Signed",
          "signing date": "soon",
          "signers details": [null, { name: 5 }],
        },
      },
      { signature: { status: "valid" }, vendor: { verified: true } },
      [
        "skipped `data.attributes.signature_info.signers details[0]`: expected an object, got null",
        "read `data.attributes.signature_info.signers details[1].name` from a number",
        "skipped `data.attributes.signature_info.signing date`: not a date VirusTotal is known to use",
      ],
    ],
    [
      "verified as a number",
      { signature_info: { verified: true } },
      { signature: { status: "unsigned" } },
      ["skipped `data.attributes.signature_info.verified`: expected a string, got a boolean"],
    ],
  ];
  it.each(cases)("%s", (_name, attributes, expected, warnings) => {
    const outcome = mapped(vt(attributes));
    expect(outcome.warnings).toEqual(warnings);
    const { sha256, ...rest } = outcome.result;
    expect(sha256).toBe(SHA);
    if (Object.keys(expected).length === 0) expect(rest).toEqual({});
    else expect(rest).toMatchObject(expected);
  });

  it("the messy example maps with warnings", () => {
    const input = JSON.parse(
      readFileSync(new URL("../../../examples/virustotal/messy.json", import.meta.url), "utf8"),
    );
    const { result, warnings } = mapped(input);
    expect(result.signature).toEqual({ status: "unsigned" });
    expect(result.fileName).toBe("libcurl-x64.dll");
    expect(result.fileSize).toBe(1048576);
    expect(result.firstSeen).toBeUndefined();
    expect(result.engines?.find((e) => e.engine === "Webroot")).toEqual({
      engine: "Webroot",
      category: "undetected",
      result: null,
    });
    expect(warnings.length).toBeGreaterThan(0);
  });
});

describe("parseVirusTotalDate", () => {
  it.each([
    ["11:46 AM 11/18/2026", "2026-11-18T11:46:00Z"],
    ["12:05 AM 01/02/2026", "2026-01-02T00:05:00Z"],
    ["12:05 PM 01/02/2026", "2026-01-02T12:05:00Z"],
    ["2026-11-18 11:46:00", "2026-11-18T11:46:00Z"],
    ["2026-11-18T11:46:00+01:00", "2026-11-18T10:46:00Z"],
    ["2026-11-18", "2026-11-18T00:00:00Z"],
    ["0050-01-01", "0050-01-01T00:00:00Z"],
    [1795690800, "2026-11-26T11:00:00Z"],
    ["1795690800", "2026-11-26T11:00:00Z"],
    ["13:00 PM 01/02/2026", undefined],
    ["02/30/2026", undefined],
    ["2026-02-30 00:00:00", undefined],
    ["9999-12-31T23:59:59-05:00", undefined],
    [Number.NaN, undefined],
    [-1, undefined],
    [null, undefined],
    ["soon", undefined],
  ])("%j -> %j", (value, expected) => {
    expect(parseVirusTotalDate(value)).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: never throw, and a successful mapping always validates.

type Path = (string | number)[];

function pathsOf(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      pathsOf(child, [...prefix, Array.isArray(value) ? Number(key) : key], out);
    }
  }
  return out;
}

const DELETE = Symbol("delete");

function mutate(root: unknown, path: Path, replacement: unknown): unknown {
  if (path.length === 0) return replacement === DELETE ? undefined : replacement;
  // An earlier mutation may have replaced the root itself with a non-object.
  if (root === null || typeof root !== "object") return root;
  let parent = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    const next = parent?.[key];
    if (next === null || typeof next !== "object") return root; // an earlier mutation removed it
    parent = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (replacement === DELETE) delete parent[last];
  else parent[last] = replacement;
  return root;
}

function checkAdapter(input: unknown): void {
  let outcome: AdapterOutcome | undefined;
  expect(() => {
    outcome = fromVirusTotal(input);
  }).not.toThrow();
  if (outcome?.ok) {
    const validated = validateResult(outcome.result);
    expect(validated.ok ? [] : validated.problems).toEqual([]);
  }
  expect(() => toCanonical(input)).not.toThrow();
  expect(() => toCanonical(input, { format: "virustotal" })).not.toThrow();
}

describe("properties", () => {
  it("never throw on fc.anything()", () => {
    fc.assert(fc.property(fc.anything(), checkAdapter), { numRuns: 500 });
  });

  it("never throw on parsed fc.json()", () => {
    fc.assert(
      fc.property(fc.json(), (text) => checkAdapter(JSON.parse(text))),
      { numRuns: 500 },
    );
  });

  it("never throw on VirusTotal-shaped random values", () => {
    const value = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    const attributes = fc.record(
      {
        sha256: fc.oneof(fc.constant(SHA), fc.constant(SHA.toUpperCase()), value),
        last_analysis_stats: fc.oneof(fc.dictionary(fc.string(), value), value),
        last_analysis_results: fc.oneof(
          fc.dictionary(fc.string(), fc.oneof(fc.dictionary(fc.string(), value), value)),
          value,
        ),
        signature_info: fc.oneof(
          fc.record(
            {
              verified: fc.oneof(fc.constantFrom("Signed", "Unsigned", "revoked"), value),
              signers: value,
              "signers details": fc.oneof(fc.array(fc.dictionary(fc.string(), value)), value),
              "signing date": value,
            },
            { requiredKeys: [] },
          ),
          value,
        ),
        names: fc.oneof(fc.array(value), value),
        tags: fc.oneof(fc.array(value), value),
        size: value,
        first_submission_date: value,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(attributes, fc.boolean(), (attrs, envelope) =>
        checkAdapter(envelope ? { data: { id: SHA, type: "file", attributes: attrs } } : attrs),
      ),
      { numRuns: 500 },
    );
  });

  it("never map a signature that mentions revocation or distrust to valid", () => {
    const value = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    const mention = fc.constantFrom(
      TEXT.revoked,
      TEXT.chainRevoked,
      TEXT.distrusted,
      TEXT.markedUntrusted,
      TEXT.untrustedRoot,
      "The revocation function was unable to check revocation for the certificate.",
      "REVOKED",
      "Distrusted",
    );
    // A mention, inside other text, in any case.
    const mentioning = fc
      .tuple(fc.string(), mention, fc.string(), fc.boolean())
      .map(([before, text, after, upper]) => {
        const mixed = `${before}${text}${after}`;
        return upper ? mixed.toUpperCase() : mixed;
      });
    const status = fc.oneof(fc.constantFrom("Valid", TEXT.notTimeValid), value);
    const certificate = fc.record(
      {
        name: fc.oneof(fc.constantFrom("Contoso Ltd", "CA", "Root"), value),
        "cert issuer": fc.oneof(fc.constantFrom("Contoso Ltd", "CA", "Root"), value),
        status,
        "valid from": fc.oneof(fc.constantFrom("12:00 AM 01/01/2020", "2020-01-01"), value),
        "valid to": fc.oneof(fc.constantFrom("12:00 AM 01/01/2030", "2021-01-01"), value),
        thumbprint: value,
      },
      { requiredKeys: [] },
    );
    const where = fc.constantFrom(
      "verified",
      "signers details",
      "counter signers details",
      "x509",
      "tag",
    );
    const report = fc
      .record({
        verified: fc.oneof(fc.constantFrom("Signed", "Unsigned"), value),
        signers: fc.oneof(fc.constantFrom("Contoso Ltd; CA; Root", "Contoso Ltd"), value),
        details: fc.array(certificate, { maxLength: 4 }),
        counter: fc.array(certificate, { maxLength: 3 }),
        x509: fc.array(certificate, { maxLength: 3 }),
        signingDate: fc.oneof(fc.constantFrom("11:10 PM 04/22/2024", "2019-01-01"), value),
        where,
        text: mentioning,
        at: fc.nat(),
        tags: fc.array(fc.string(), { maxLength: 3 }),
        typeTag: fc.constantFrom("peexe", "macho", "msi", "elf", undefined),
      })
      .map((r) => {
        const info: Record<string, unknown> = {
          verified: r.verified,
          signers: r.signers,
          "signers details": r.details,
          "counter signers details": r.counter,
          x509: r.x509,
          "signing date": r.signingDate,
        };
        const tags = [...r.tags];
        const put = (key: string): void => {
          const list = [...(info[key] as Record<string, unknown>[])];
          const index = list.length === 0 ? 0 : r.at % (list.length + 1);
          list.splice(index, 0, { ...(list[index] ?? {}), status: r.text });
          info[key] = list;
        };
        if (r.where === "verified") info.verified = r.text;
        else if (r.where === "tag") tags.splice(r.at % (tags.length + 1), 0, "revoked-cert");
        else put(r.where);
        return vt({ type_tag: r.typeTag, tags, signature_info: info });
      });
    fc.assert(
      fc.property(report, (input) => {
        checkAdapter(input);
        const { result } = mapped(input);
        expect(result.signature?.status).not.toBe("valid");
        expect(result.vendor?.verified ?? false).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it("never throw on random mutations of a real VirusTotal object", () => {
    const paths = pathsOf(REAL);
    const mutation = fc.record({
      path: fc.constantFrom(...paths),
      value: fc.oneof(
        fc.constant(DELETE),
        fc.anything(),
        fc.constantFrom(null, "", "12", -1, 1.5, [], {}, true),
      ),
    });
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (mutations) => {
        let input: unknown = structuredClone(REAL);
        for (const { path, value } of mutations) input = mutate(input, path, value);
        checkAdapter(input);
      }),
      { numRuns: 1000 },
    );
  });
});
