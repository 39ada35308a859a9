/**
 * VirusTotal API v3 file object -> canonical analysis result.
 *
 * Every VirusTotal field name used by Clearance is in `VT` below, and the whole mapping is in this
 * file: a field-name change is a one-file change. The adapter never throws on a JSON value: what
 * cannot be read is skipped with a warning. Fields VirusTotal has no value for (trustScore,
 * verdict, scoreBreakdown) stay absent. The output is not validated here (see `toCanonical`).
 */
import {
  type AdapterOutcome,
  type AnalysisResult,
  type Detections,
  type EngineResult,
  type Signature,
  type SignatureStatus,
  show,
  type Vendor,
} from "@clearance/result";

/** VirusTotal v3 field names. */
const VT = {
  data: "data",
  id: "id",
  type: "type",
  attributes: "attributes",
  sha256: "sha256",
  meaningfulName: "meaningful_name",
  names: "names",
  size: "size",
  typeDescription: "type_description",
  typeTag: "type_tag",
  mimeType: "mime_type",
  exiftool: "exiftool",
  exiftoolMimeType: "MIMEType",
  exiftoolCompany: "CompanyName",
  exiftoolProduct: "ProductName",
  exiftoolFileVersion: "FileVersion",
  tags: "tags",
  firstSubmissionDate: "first_submission_date",
  lastAnalysisDate: "last_analysis_date",
  stats: "last_analysis_stats",
  results: "last_analysis_results",
  engineName: "engine_name",
  engineVersion: "engine_version",
  engineCategory: "category",
  engineResult: "result",
  signatureInfo: "signature_info",
  verified: "verified",
  signers: "signers",
  signersDetails: "signers details",
  counterSigners: "counter signers",
  counterSignersDetails: "counter signers details",
  x509: "x509",
  certName: "name",
  certStatus: "status",
  certIssuer: "cert issuer",
  certThumbprint: "thumbprint",
  certValidFrom: "valid from",
  certValidTo: "valid to",
  signingDate: "signing date",
  validUsage: "valid usage",
  product: "product",
  fileVersion: "file version",
} as const;

/** VirusTotal engine category / stats key -> canonical category (and `detections` key). */
const CATEGORIES: Readonly<Record<string, keyof Detections>> = {
  malicious: "malicious",
  suspicious: "suspicious",
  undetected: "undetected",
  harmless: "harmless",
  failure: "failed",
  timeout: "failed",
  "confirmed-timeout": "failed",
  "type-unsupported": "unsupported",
};

/*
 * Signature texts (see docs/virustotal.md for the table they implement). VirusTotal copies them
 * from sigcheck (PE, MSI) and codesign (Mach-O): `verified` and every certificate's `status` are
 * either "Signed"/"Valid" or a Windows trust message. Each is tested once per status string (a
 * report has a handful), never per field.
 */
const SIGNED = /^signed$/i;
const UNSIGNED = /^unsigned$/i;
/** Revocation: "explicitly revoked by its issuer", "...has been revoked", revocation failures. */
const REVOKED = /revok|revocation/i;
/** Distrust: "explicitly distrusted", "explicitly marked as untrusted". */
const DISTRUSTED = /distrust|marked as untrusted/i;
/** An untrusted root or a chain that reaches no trusted root. */
const UNTRUSTED = /not trusted|untrusted|could not be built to a trusted root|self[- ]signed/i;
/** "not time valid", "not within its validity period", "has expired", "certificate expired". */
const NOT_TIME_VALID = /not time valid|not within its validity period|expired/i;
/** VirusTotal file tags about the signature. */
const TAG_REVOKED = "revoked-cert";
const TAG_INVALID = "invalid-signature";

/** `type_tag` values of the formats VirusTotal reports signatures for (PE, MSI, Mach-O). */
const SIGNABLE_TYPE_TAGS: ReadonlySet<string> = new Set([
  "peexe",
  "pedll",
  "pe",
  "msi",
  "macho",
  "mach-o",
]);
/** `type_description` prefixes of the same formats. */
const SIGNABLE_DESCRIPTIONS = ["win32 ", "win64 ", "windows installer", "mach-o"];

const HEX64 = /^[0-9a-fA-F]{64}$/;
/** Largest epoch second with a four-digit year (9999-12-31T23:59:59Z). */
const MAX_EPOCH_SECONDS = 253_402_300_799;
/** 0001-01-01T00:00:00Z: the first instant with a four-digit year. */
const MIN_DATE_MS = -62_135_596_800_000;

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Own property only: never picks up `constructor`, `toString` or other inherited names. */
function own(object: Obj | undefined, key: string): unknown {
  return object !== undefined && Object.hasOwn(object, key) ? object[key] : undefined;
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** Reads typed values at dotted VirusTotal paths, collecting a warning for each unreadable one. */
class Reader {
  readonly warnings: string[] = [];

  warn(message: string): void {
    this.warnings.push(message);
  }

  skip(path: string, expected: string, value: unknown): void {
    this.warn(`skipped \`${path}\`: expected ${expected}, got ${kind(value)}`);
  }

  /** A non-empty string; numbers are converted with a warning; null and "" are absent. */
  string(object: Obj | undefined, key: string, path: string): string | undefined {
    const value = own(object, key);
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value === "string") return value;
    if (typeof value === "number" && Number.isFinite(value)) {
      this.warn(`read \`${path}\` from a number`);
      return String(value);
    }
    this.skip(path, "a string", value);
    return undefined;
  }

  /** A non-negative integer; digit strings are converted with a warning; null is absent. */
  count(object: Obj | undefined, key: string, path: string): number | undefined {
    const value = own(object, key);
    if (value === undefined || value === null) return undefined;
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
    if (typeof value === "string" && /^\d{1,15}$/.test(value.trim())) {
      this.warn(`read \`${path}\` from a string`);
      return Number(value.trim());
    }
    this.skip(path, "a non-negative integer", value);
    return undefined;
  }

  object(object: Obj | undefined, key: string, path: string): Obj | undefined {
    const value = own(object, key);
    if (value === undefined || value === null) return undefined;
    if (isObject(value)) return value;
    this.skip(path, "an object", value);
    return undefined;
  }

  array(object: Obj | undefined, key: string, path: string): unknown[] | undefined {
    const value = own(object, key);
    if (value === undefined || value === null) return undefined;
    if (Array.isArray(value)) return value;
    this.skip(path, "an array", value);
    return undefined;
  }

  /** An array keeping only its objects (with a warning for the others). */
  objects(object: Obj | undefined, key: string, path: string): Obj[] {
    const list = this.array(object, key, path) ?? [];
    const objects: Obj[] = [];
    list.forEach((item, index) => {
      if (isObject(item)) objects.push(item);
      else this.skip(`${path}[${index}]`, "an object", item);
    });
    return objects;
  }

  /** Epoch seconds (number or digit string) -> RFC 3339 string. */
  epoch(object: Obj | undefined, key: string, path: string): string | undefined {
    const value = own(object, key);
    if (value === undefined || value === null) return undefined;
    const seconds =
      typeof value === "string" && /^\d{1,12}$/.test(value.trim()) ? Number(value.trim()) : value;
    if (typeof seconds !== "number" || !Number.isFinite(seconds)) {
      this.skip(path, "epoch seconds", value);
      return undefined;
    }
    if (seconds < 0 || seconds > MAX_EPOCH_SECONDS) {
      this.warn(`skipped \`${path}\`: \`${seconds}\` is out of range for epoch seconds`);
      return undefined;
    }
    if (typeof value === "string") this.warn(`read \`${path}\` from a string`);
    return isoString(seconds * 1000);
  }
}

function isoString(milliseconds: number): string {
  return new Date(Math.round(milliseconds)).toISOString().replace(".000Z", "Z");
}

/**
 * Parses the date formats found in VirusTotal signature data: "11:46 AM 11/18/2021" (US),
 * "2021-11-18 11:46:00" and ISO strings (taken as UTC without an offset), and epoch seconds.
 */
export function parseVirusTotalDate(value: unknown): string | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 && value <= MAX_EPOCH_SECONDS
      ? isoString(value * 1000)
      : undefined;
  }
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (/^\d{1,12}$/.test(text)) return parseVirusTotalDate(Number(text));
  let m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])\s+(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(
    text,
  );
  if (m !== null) {
    const hour12 = Number(m[1]);
    if (hour12 < 1 || hour12 > 12) return undefined;
    const hour = (hour12 % 12) + (m[4]!.toUpperCase() === "PM" ? 12 : 0);
    return utc(Number(m[7]), Number(m[5]), Number(m[6]), hour, Number(m[2]), Number(m[3] ?? 0));
  }
  m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[ Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?([Zz]|[+-]\d{2}:?\d{2})?$/.exec(
      text,
    );
  if (m === null) return undefined;
  const base = utc(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
  );
  const zone = m[7];
  if (base === undefined || zone === undefined || zone === "Z" || zone === "z") return base;
  const offset = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
  const minutes = (offset[1] === "-" ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3]));
  if (Number(offset[2]) > 23 || Number(offset[3]) > 59) return undefined;
  const ms = Date.parse(base) - minutes * 60_000;
  return ms >= MIN_DATE_MS && ms <= MAX_EPOCH_SECONDS * 1000 ? isoString(ms) : undefined;
}

function utc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): string | undefined {
  if (year < 1 || year > 9999 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  // Dates roll over (February 30 -> March 2): reject what does not round-trip.
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  return isoString(date.getTime());
}

function mapDetections(stats: Obj, path: string, reader: Reader): Detections | undefined {
  const detections: Detections = {};
  let any = false;
  for (const key of Object.keys(stats)) {
    const target = Object.hasOwn(CATEGORIES, key) ? CATEGORIES[key] : undefined;
    if (target === undefined) {
      reader.warn(`ignored unknown key ${show(key)} in \`${path}\``);
      continue;
    }
    const count = reader.count(stats, key, `${path}.${key}`);
    if (count === undefined) continue;
    detections[target] = (detections[target] ?? 0) + count;
    any = true;
  }
  return any ? detections : undefined;
}

function mapEngines(results: Obj, path: string, reader: Reader): EngineResult[] {
  const engines: EngineResult[] = [];
  for (const key of Object.keys(results)) {
    const entry = results[key];
    const entryPath = `${path}.${key}`;
    if (!isObject(entry)) {
      reader.skip(entryPath, "an object", entry);
      continue;
    }
    const engine: EngineResult = {
      engine: reader.string(entry, VT.engineName, `${entryPath}.${VT.engineName}`) ?? key,
    };
    const category = reader.string(entry, VT.engineCategory, `${entryPath}.${VT.engineCategory}`);
    if (category !== undefined) {
      const mapped = Object.hasOwn(CATEGORIES, category) ? CATEGORIES[category] : undefined;
      if (mapped === undefined)
        reader.warn(`kept unknown category ${show(category)} of \`${entryPath}\``);
      engine.category = mapped ?? category;
    }
    const result = own(entry, VT.engineResult);
    if (typeof result === "string" || result === null) engine.result = result;
    else if (result !== undefined)
      reader.skip(`${entryPath}.${VT.engineResult}`, "a string or null", result);
    const version = reader.string(entry, VT.engineVersion, `${entryPath}.${VT.engineVersion}`);
    if (version !== undefined) engine.version = version;
    engines.push(engine);
  }
  return engines;
}

function detectionsFromEngines(engines: EngineResult[]): Detections | undefined {
  const detections: Detections = {};
  let any = false;
  for (const { category } of engines) {
    const key = category as keyof Detections | undefined;
    if (key === undefined || !Object.values(CATEGORIES).includes(key)) continue;
    detections[key] = (detections[key] ?? 0) + 1;
    any = true;
  }
  return any ? detections : undefined;
}

function text(object: Obj | undefined, key: string): string | undefined {
  const value = own(object, key);
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/**
 * The leaf (signing) certificate of a list in any order: the one that issued no other certificate
 * of the list, preferring the first name of `signers`, then one that is neither self-issued nor a
 * timestamping certificate. VirusTotal lists PE chains leaf first but `x509` (and Mach-O chains)
 * in other orders.
 */
function leafOf(certificates: Obj[], signerName: string | undefined): Obj | undefined {
  if (certificates.length <= 1) return certificates[0];
  const issuers = new Set<string>();
  for (const certificate of certificates) {
    const issuer = text(certificate, VT.certIssuer);
    if (issuer !== undefined && issuer !== text(certificate, VT.certName)) issuers.add(issuer);
  }
  const candidates = certificates.filter((certificate) => {
    const name = text(certificate, VT.certName);
    return name === undefined || !issuers.has(name);
  });
  if (signerName !== undefined) {
    const named = candidates.find((certificate) => text(certificate, VT.certName) === signerName);
    if (named !== undefined) return named;
  }
  const signing = candidates.find((certificate) => {
    const usage = text(certificate, VT.validUsage);
    const selfIssued = text(certificate, VT.certName) === text(certificate, VT.certIssuer);
    return !selfIssued && (usage === undefined || !/timestamp/i.test(usage));
  });
  return signing ?? candidates[0] ?? certificates[0];
}

/** The same certificate in another list, by thumbprint, else by name. */
function sameCertificate(certificates: Obj[], leaf: Obj | undefined): Obj | undefined {
  if (leaf === undefined) return undefined;
  const thumbprint = text(leaf, VT.certThumbprint)?.toUpperCase();
  if (thumbprint !== undefined) {
    const match = certificates.find(
      (c) => text(c, VT.certThumbprint)?.toUpperCase() === thumbprint,
    );
    if (match !== undefined) return match;
  }
  const name = text(leaf, VT.certName);
  return name === undefined ? undefined : certificates.find((c) => text(c, VT.certName) === name);
}

/** What the signature texts say, strongest first; see docs/virustotal.md. */
interface Findings {
  revoked: boolean;
  distrusted: boolean;
  untrusted: boolean;
  /** A signer-chain status (not a counter-signer's) says a certificate is not time valid. */
  notTimeValid: boolean;
}

function findings(
  verified: string | undefined,
  signerStatuses: string[],
  counterStatuses: string[],
) {
  const found: Findings = {
    revoked: false,
    distrusted: false,
    untrusted: false,
    notTimeValid: false,
  };
  const problem = (status: string, signerChain: boolean): void => {
    if (SIGNED.test(status) || UNSIGNED.test(status) || status.toLowerCase() === "valid") return;
    if (REVOKED.test(status)) found.revoked = true;
    if (DISTRUSTED.test(status)) found.distrusted = true;
    else if (UNTRUSTED.test(status)) found.untrusted = true;
    if (signerChain && NOT_TIME_VALID.test(status)) found.notTimeValid = true;
  };
  if (verified !== undefined) problem(verified, true);
  for (const status of signerStatuses) problem(status, true);
  for (const status of counterStatuses) problem(status, false);
  return found;
}

function statuses(certificates: Obj[]): string[] {
  const found: string[] = [];
  for (const certificate of certificates) {
    const status = text(certificate, VT.certStatus);
    if (status !== undefined) found.push(status);
  }
  return found;
}

function within(at: string, from: string | undefined, to: string | undefined): boolean | undefined {
  if (from === undefined || to === undefined) return undefined;
  const time = Date.parse(at);
  return time >= Date.parse(from) && time <= Date.parse(to);
}

function mapSignature(info: Obj, tags: readonly string[], path: string, reader: Reader): Signature {
  const details = reader.objects(info, VT.signersDetails, `${path}.${VT.signersDetails}`);
  const counterDetails = reader.objects(
    info,
    VT.counterSignersDetails,
    `${path}.${VT.counterSignersDetails}`,
  );
  const x509 = reader.objects(info, VT.x509, `${path}.${VT.x509}`);
  const chain = (reader.string(info, VT.signers, `${path}.${VT.signers}`) ?? "")
    .split(";")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  // Warn about unreadable certificate fields once, where VirusTotal puts the leaf first.
  if (details[0] !== undefined) {
    const firstPath = `${path}.${VT.signersDetails}[${(
      own(info, VT.signersDetails) as unknown[]
    ).indexOf(details[0])}]`;
    for (const key of [VT.certName, VT.certIssuer, VT.certThumbprint]) {
      reader.string(details[0], key, `${firstPath}.${key}`);
    }
  }
  const leafDetails = leafOf(details, chain[0]);
  const leafX509 = sameCertificate(x509, leafDetails) ?? leafOf(x509, chain[0]);
  const leaf = leafDetails ?? leafX509;
  const signer =
    text(leafDetails, VT.certName) ??
    text(leafX509, VT.certName) ??
    chain[0] ??
    textOrNumber(leafDetails, VT.certName);
  const issuer =
    text(leafDetails, VT.certIssuer) ??
    text(leafX509, VT.certIssuer) ??
    (signer !== undefined && signer === chain[0] ? chain[1] : undefined);
  const thumbprint = text(leafDetails, VT.certThumbprint) ?? text(leafX509, VT.certThumbprint);
  const signingDate = own(info, VT.signingDate);
  const signedAt = parseVirusTotalDate(signingDate);
  if (signedAt === undefined && signingDate !== undefined && signingDate !== null) {
    reader.warn(`skipped \`${path}.${VT.signingDate}\`: not a date VirusTotal is known to use`);
  }

  const verifiedPath = `${path}.${VT.verified}`;
  const verified = reader.string(info, VT.verified, verifiedPath)?.trim();
  const found = findings(verified, statuses(details), [
    ...statuses(counterDetails),
    ...statuses(x509),
  ]);
  const tagRevoked = tags.includes(TAG_REVOKED);
  const selfIssued =
    leaf !== undefined &&
    text(leaf, VT.certName) !== undefined &&
    text(leaf, VT.certName) === text(leaf, VT.certIssuer);
  const hasSigner = signer !== undefined || details.length > 0 || x509.length > 0;

  let status: SignatureStatus;
  if (found.revoked || tagRevoked || found.distrusted) {
    status = "invalid";
  } else if (found.untrusted) {
    status = selfIssued ? "self_signed" : "invalid";
  } else if (tags.includes(TAG_INVALID)) {
    status = "invalid";
  } else if (verified === undefined) {
    status = "unsigned";
    if (hasSigner) {
      reader.warn(
        `\`${verifiedPath}\` is missing: treated as unsigned although signers are listed`,
      );
    }
  } else if (UNSIGNED.test(verified)) {
    status = "unsigned";
  } else if (!SIGNED.test(verified)) {
    // Windows' own verdict, which already took any timestamp into account.
    status = NOT_TIME_VALID.test(verified) ? "expired" : "invalid";
  } else {
    status = signedStatus(info, leaf, leafX509, signedAt, found, reader, path);
  }

  const signature: Signature = { status };
  if (status !== "unsigned") {
    if (signer !== undefined) signature.signer = signer;
    if (issuer !== undefined) signature.issuer = issuer;
    if (thumbprint !== undefined) signature.thumbprint = thumbprint;
    if (signedAt !== undefined) signature.signedAt = signedAt;
  }
  return signature;
}

/** A name VirusTotal gave as a number (read with a warning by the caller). */
function textOrNumber(object: Obj | undefined, key: string): string | undefined {
  const value = own(object, key);
  return typeof value === "number" && Number.isFinite(value) ? String(value) : undefined;
}

/**
 * `verified: "Signed"`: `expired` when the signing date falls outside the leaf certificate's
 * validity, or a signer certificate is not time valid now and no timestamp vouches for the
 * signing date; else `valid`.
 */
function signedStatus(
  info: Obj,
  leaf: Obj | undefined,
  leafX509: Obj | undefined,
  signedAt: string | undefined,
  found: Findings,
  reader: Reader,
  path: string,
): SignatureStatus {
  const from =
    parseVirusTotalDate(own(leaf, VT.certValidFrom)) ??
    parseVirusTotalDate(own(leafX509, VT.certValidFrom));
  const to =
    parseVirusTotalDate(own(leaf, VT.certValidTo)) ??
    parseVirusTotalDate(own(leafX509, VT.certValidTo));
  const atSigning = signedAt === undefined ? undefined : within(signedAt, from, to);
  if (atSigning === false) {
    reader.warn(`the signing certificate in \`${path}\` was not valid at the signing date`);
    return "expired";
  }
  if (!found.notTimeValid) return "valid";
  const counterSigned =
    text(info, VT.counterSigners) !== undefined ||
    (Array.isArray(own(info, VT.counterSignersDetails)) &&
      (own(info, VT.counterSignersDetails) as unknown[]).length > 0);
  return counterSigned && atSigning === true ? "valid" : "expired";
}

/** Whether VirusTotal reports signatures for this file's format: PE, MSI and Mach-O. */
function signable(attrs: Obj, tags: readonly string[]): boolean | undefined {
  const tag = text(attrs, VT.typeTag)?.toLowerCase();
  if (tag !== undefined) return SIGNABLE_TYPE_TAGS.has(tag);
  const description = text(attrs, VT.typeDescription)?.toLowerCase();
  if (description !== undefined) {
    return SIGNABLE_DESCRIPTIONS.some((prefix) => description.startsWith(prefix));
  }
  if (tags.some((t) => SIGNABLE_TYPE_TAGS.has(t))) return true;
  return undefined;
}

/**
 * The vendor: the signer when the file is signed (any status but `unsigned`), else the version
 * resource's company as exiftool reads it (`signature_info` has no company field). Product and
 * version come from `signature_info`, else exiftool.
 */
function mapVendor(
  info: Obj | undefined,
  exiftool: Obj | undefined,
  signature: Signature | undefined,
  infoPath: string,
  exiftoolPath: string,
  reader: Reader,
): Vendor | undefined {
  const vendor: Vendor = {};
  const signed = signature !== undefined && signature.status !== "unsigned";
  const name =
    signed && signature.signer !== undefined
      ? signature.signer
      : reader.string(exiftool, VT.exiftoolCompany, `${exiftoolPath}.${VT.exiftoolCompany}`);
  if (name !== undefined) vendor.name = name;
  vendor.verified = signature?.status === "valid";
  const product =
    reader.string(info, VT.product, `${infoPath}.${VT.product}`) ??
    reader.string(exiftool, VT.exiftoolProduct, `${exiftoolPath}.${VT.exiftoolProduct}`);
  if (product !== undefined) vendor.product = product;
  const version =
    reader.string(info, VT.fileVersion, `${infoPath}.${VT.fileVersion}`) ??
    reader.string(exiftool, VT.exiftoolFileVersion, `${exiftoolPath}.${VT.exiftoolFileVersion}`);
  if (version !== undefined) vendor.version = version;
  const hasVendor = name !== undefined || product !== undefined || version !== undefined;
  return hasVendor ? vendor : undefined;
}

/** The last segment of a Windows or POSIX path ("" when it ends with a separator). */
export function baseName(name: string): string {
  const cut = Math.max(name.lastIndexOf("/"), name.lastIndexOf("\\"));
  return cut < 0 ? name : name.slice(cut + 1);
}

function fail(pointer: string, message: string): AdapterOutcome {
  return { ok: false, problems: [{ pointer, message }] };
}

/**
 * Maps a VirusTotal v3 file object to a canonical result. Accepts `{"data": {"id", "type",
 * "attributes"}}`, a bare `{"id", "type", "attributes"}` object, or a bare attributes object with
 * `sha256`. Fails only when the input is not an object or holds no SHA-256.
 */
export function fromVirusTotal(input: unknown): AdapterOutcome {
  if (!isObject(input)) {
    return fail("", `expected a VirusTotal file object, got ${kind(input)}`);
  }
  const reader = new Reader();
  let root: Obj = input;
  let path = "";
  let pointer = "";
  const data = own(input, VT.data);
  if (data !== undefined) {
    if (!isObject(data)) return fail(`/${VT.data}`, `expected an object, got ${kind(data)}`);
    root = data;
    path = `${VT.data}.`;
    pointer = `/${VT.data}`;
  }
  let attrs: Obj;
  const attributes = own(root, VT.attributes);
  if (isObject(attributes)) {
    attrs = attributes;
    path += `${VT.attributes}.`;
    pointer += `/${VT.attributes}`;
  } else if (root === data || (attributes !== undefined && attributes !== null)) {
    if (attributes === undefined || attributes === null) {
      reader.warn(`\`${path}${VT.attributes}\` is missing`);
    } else {
      reader.skip(`${path}${VT.attributes}`, "an object", attributes);
    }
    attrs = {};
  } else {
    attrs = root; // a bare attributes object
  }
  const hasEnvelope = attrs !== root;
  const idPath = `${path.replace(`${VT.attributes}.`, "")}${VT.id}`;

  const type = hasEnvelope ? own(root, VT.type) : undefined;
  if (typeof type === "string" && type !== "file") {
    reader.warn(
      `\`${path.replace(`${VT.attributes}.`, "")}${VT.type}\` is ${show(type)}, expected \`file\``,
    );
  }

  // sha256: attributes.sha256, else the object id.
  const attrSha = own(attrs, VT.sha256);
  const id = hasEnvelope ? own(root, VT.id) : undefined;
  const validAttr = typeof attrSha === "string" && HEX64.test(attrSha);
  const validId = typeof id === "string" && HEX64.test(id);
  if (attrSha !== undefined && !validAttr) {
    reader.warn(`skipped \`${path}${VT.sha256}\`: not 64 hexadecimal digits`);
  }
  if (validAttr && validId && attrSha.toLowerCase() !== id.toLowerCase()) {
    reader.warn(`\`${idPath}\` differs from \`${path}${VT.sha256}\`: used \`${path}${VT.sha256}\``);
  }
  const sha = validAttr ? attrSha : validId ? id : undefined;
  if (sha === undefined) {
    const where = hasEnvelope ? `\`${path}${VT.sha256}\` or \`${idPath}\`` : `\`${VT.sha256}\``;
    return fail(
      `${pointer}/${VT.sha256}`,
      `no SHA-256 found: expected 64 hexadecimal digits in ${where}`,
    );
  }

  const result: AnalysisResult = { sha256: sha.toLowerCase() };

  // VirusTotal keeps names as submitted, with Windows or POSIX directories: the canonical file
  // name has none.
  let fileName = reader.string(attrs, VT.meaningfulName, `${path}${VT.meaningfulName}`);
  if (fileName !== undefined) fileName = baseName(fileName) || undefined;
  if (fileName === undefined) {
    for (const name of reader.array(attrs, VT.names, `${path}${VT.names}`) ?? []) {
      fileName = typeof name === "string" ? baseName(name) || undefined : undefined;
      if (fileName !== undefined) break;
    }
  }
  if (fileName !== undefined) result.fileName = fileName;
  const size = reader.count(attrs, VT.size, `${path}${VT.size}`);
  if (size !== undefined) result.fileSize = size;
  const exiftool = reader.object(attrs, VT.exiftool, `${path}${VT.exiftool}`);
  const contentType =
    reader.string(attrs, VT.mimeType, `${path}${VT.mimeType}`) ??
    reader.string(exiftool, VT.exiftoolMimeType, `${path}${VT.exiftool}.${VT.exiftoolMimeType}`);
  if (contentType !== undefined) result.contentType = contentType;
  const category = reader.string(attrs, VT.typeDescription, `${path}${VT.typeDescription}`);
  if (category !== undefined) result.category = category;

  const resultsObject = reader.object(attrs, VT.results, `${path}${VT.results}`);
  const engines = resultsObject ? mapEngines(resultsObject, `${path}${VT.results}`, reader) : [];
  const stats = reader.object(attrs, VT.stats, `${path}${VT.stats}`);
  let detections = stats ? mapDetections(stats, `${path}${VT.stats}`, reader) : undefined;
  if (detections === undefined && engines.length > 0) {
    detections = detectionsFromEngines(engines);
    if (detections !== undefined) {
      reader.warn(`derived detections from \`${path}${VT.results}\` (no usable \`${VT.stats}\`)`);
    }
  }
  if (detections !== undefined) result.detections = detections;
  if (resultsObject !== undefined) result.engines = engines;

  const tagList = reader.array(attrs, VT.tags, `${path}${VT.tags}`);
  const tags = tagList?.filter((tag, index): tag is string => {
    if (typeof tag !== "string") reader.skip(`${path}${VT.tags}[${index}]`, "a string", tag);
    return typeof tag === "string";
  });

  const infoPath = `${path}${VT.signatureInfo}`;
  const info = reader.object(attrs, VT.signatureInfo, infoPath);
  let signature: Signature | undefined;
  if (info !== undefined) {
    signature = mapSignature(info, tags ?? [], infoPath, reader);
  } else {
    const canSign = signable(attrs, tags ?? []);
    if (canSign === true) {
      // VirusTotal gives PE, MSI and Mach-O files a signature_info whenever they are signed.
      signature = {
        status: tags?.includes(TAG_REVOKED) || tags?.includes(TAG_INVALID) ? "invalid" : "unsigned",
      };
    } else if (canSign === false) {
      reader.warn(
        `no \`signature\`: VirusTotal reports code signatures only for PE, MSI and Mach-O files, not ${show(
          text(attrs, VT.typeTag) ?? text(attrs, VT.typeDescription) ?? "",
        )}`,
      );
    }
  }
  const vendor = mapVendor(info, exiftool, signature, infoPath, `${path}${VT.exiftool}`, reader);
  if (vendor !== undefined) result.vendor = vendor;
  if (signature !== undefined) result.signature = signature;

  const firstSeen = reader.epoch(attrs, VT.firstSubmissionDate, `${path}${VT.firstSubmissionDate}`);
  if (firstSeen !== undefined) result.firstSeen = firstSeen;
  const analyzedAt = reader.epoch(attrs, VT.lastAnalysisDate, `${path}${VT.lastAnalysisDate}`);
  if (analyzedAt !== undefined) result.analyzedAt = analyzedAt;

  if (tags !== undefined) result.tags = tags;

  return { ok: true, result, warnings: reader.warnings };
}
