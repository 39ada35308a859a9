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
  mimeType: "mime_type",
  exiftool: "exiftool",
  exiftoolMimeType: "MIMEType",
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
  x509: "x509",
  certName: "name",
  certStatus: "status",
  certIssuer: "cert issuer",
  certThumbprint: "thumbprint",
  certValidFrom: "valid from",
  certValidTo: "valid to",
  signingDate: "signing date",
  company: "company",
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

/** `verified` values, and signer-certificate status texts that mean "expired". */
const SIGNED = /^signed$/i;
const UNSIGNED = /^unsigned$/i;
const NOT_TIME_VALID = /not time valid|has expired|certificate is expired/i;
const UNTRUSTED_ROOT = /root certificate which is not trusted|self[- ]signed/i;

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

/** Whether any certificate of the signing chain was not time valid (by status text or dates). */
function isExpired(
  certificates: Obj[],
  signedAt: string | undefined,
  reader: Reader,
  path: string,
) {
  for (const certificate of certificates) {
    const status = own(certificate, VT.certStatus);
    if (typeof status === "string" && NOT_TIME_VALID.test(status)) return true;
    if (signedAt === undefined) continue;
    const from = parseVirusTotalDate(own(certificate, VT.certValidFrom));
    const to = parseVirusTotalDate(own(certificate, VT.certValidTo));
    const at = Date.parse(signedAt);
    if (
      (from !== undefined && at < Date.parse(from)) ||
      (to !== undefined && at > Date.parse(to))
    ) {
      reader.warn(`a certificate in \`${path}\` was not valid at the signing date`);
      return true;
    }
  }
  return false;
}

function mapSignature(
  info: Obj,
  path: string,
  reader: Reader,
): { signature: Signature; vendor: Vendor | undefined } {
  const details = reader.objects(info, VT.signersDetails, `${path}.${VT.signersDetails}`);
  const x509 = reader.objects(info, VT.x509, `${path}.${VT.x509}`);
  const first = details[0];
  const firstPath = `${path}.${VT.signersDetails}[0]`;
  const chain = (reader.string(info, VT.signers, `${path}.${VT.signers}`) ?? "")
    .split(";")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const firstName = reader.string(first, VT.certName, `${firstPath}.${VT.certName}`);
  const signer = chain[0] ?? firstName;
  const issuer =
    reader.string(first, VT.certIssuer, `${firstPath}.${VT.certIssuer}`) ??
    reader.string(x509[0], VT.certIssuer, `${path}.${VT.x509}[0].${VT.certIssuer}`) ??
    chain[1];
  const thumbprint =
    reader.string(first, VT.certThumbprint, `${firstPath}.${VT.certThumbprint}`) ??
    reader.string(x509[0], VT.certThumbprint, `${path}.${VT.x509}[0].${VT.certThumbprint}`);
  const signingDate = own(info, VT.signingDate);
  const signedAt = parseVirusTotalDate(signingDate);
  if (signedAt === undefined && signingDate !== undefined && signingDate !== null) {
    reader.warn(`skipped \`${path}.${VT.signingDate}\`: not a date VirusTotal is known to use`);
  }

  const verifiedPath = `${path}.${VT.verified}`;
  const verified = reader.string(info, VT.verified, verifiedPath)?.trim();
  let status: SignatureStatus;
  if (verified === undefined) {
    status = "unsigned";
    if (signer !== undefined) {
      reader.warn(
        `\`${verifiedPath}\` is missing: treated as unsigned although signers are listed`,
      );
    }
  } else if (SIGNED.test(verified)) {
    status = isExpired([...details, ...x509], signedAt, reader, path) ? "expired" : "valid";
  } else if (UNSIGNED.test(verified)) {
    status = "unsigned";
  } else {
    // A problem text. An untrusted root whose signer is its own issuer is a self-signed certificate.
    const statuses = [verified, ...details.map((d) => own(d, VT.certStatus))];
    const untrustedRoot = statuses.some((s) => typeof s === "string" && UNTRUSTED_ROOT.test(s));
    const selfIssued = firstName !== undefined && firstName === issuer;
    status = untrustedRoot && selfIssued ? "self_signed" : "invalid";
  }

  const signature: Signature = { status };
  if (status !== "unsigned") {
    if (signer !== undefined) signature.signer = signer;
    if (issuer !== undefined) signature.issuer = issuer;
    if (thumbprint !== undefined) signature.thumbprint = thumbprint;
    if (signedAt !== undefined) signature.signedAt = signedAt;
  }

  const vendor: Vendor = {};
  const name =
    status !== "unsigned" && signer !== undefined
      ? signer
      : reader.string(info, VT.company, `${path}.${VT.company}`);
  if (name !== undefined) vendor.name = name;
  vendor.verified = status === "valid";
  const product = reader.string(info, VT.product, `${path}.${VT.product}`);
  if (product !== undefined) vendor.product = product;
  const version = reader.string(info, VT.fileVersion, `${path}.${VT.fileVersion}`);
  if (version !== undefined) vendor.version = version;
  const hasVendor = name !== undefined || product !== undefined || version !== undefined;
  return { signature, vendor: hasVendor ? vendor : undefined };
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

  const fileName =
    reader.string(attrs, VT.meaningfulName, `${path}${VT.meaningfulName}`) ??
    (reader.array(attrs, VT.names, `${path}${VT.names}`) ?? []).find(
      (name): name is string => typeof name === "string" && name !== "",
    );
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

  const info = reader.object(attrs, VT.signatureInfo, `${path}${VT.signatureInfo}`);
  if (info !== undefined) {
    const { signature, vendor } = mapSignature(info, `${path}${VT.signatureInfo}`, reader);
    if (vendor !== undefined) result.vendor = vendor;
    result.signature = signature;
  }

  const firstSeen = reader.epoch(attrs, VT.firstSubmissionDate, `${path}${VT.firstSubmissionDate}`);
  if (firstSeen !== undefined) result.firstSeen = firstSeen;
  const analyzedAt = reader.epoch(attrs, VT.lastAnalysisDate, `${path}${VT.lastAnalysisDate}`);
  if (analyzedAt !== undefined) result.analyzedAt = analyzedAt;

  const tags = reader.array(attrs, VT.tags, `${path}${VT.tags}`);
  if (tags !== undefined) {
    result.tags = tags.filter((tag, index): tag is string => {
      if (typeof tag !== "string") reader.skip(`${path}${VT.tags}[${index}]`, "a string", tag);
      return typeof tag === "string";
    });
  }

  return { ok: true, result, warnings: reader.warnings };
}
