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
  type GtiSeverity,
  type GtiVerdict,
  type IdsAlert,
  type IdsSeverity,
  type NamedCount,
  type SandboxCategory,
  type SandboxVerdict,
  type SigmaLevel,
  type SigmaMatch,
  type Signature,
  type SignatureStatus,
  show,
  type Vendor,
  type VirusTotalSection,
  type YaraMatch,
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
  reputation: "reputation",
  totalVotes: "total_votes",
  votesHarmless: "harmless",
  votesMalicious: "malicious",
  threatClassification: "popular_threat_classification",
  suggestedThreatLabel: "suggested_threat_label",
  threatCategory: "popular_threat_category",
  threatName: "popular_threat_name",
  rankedValue: "value",
  rankedCount: "count",
  knownDistributors: "known_distributors",
  distributors: "distributors",
  distributorProducts: "products",
  distributorFileNames: "filenames",
  distributorSources: "data_sources",
  yaraResults: "crowdsourced_yara_results",
  yaraRule: "rule_name",
  yaraRuleset: "ruleset_name",
  yaraSource: "source",
  yaraAuthor: "author",
  yaraDescription: "description",
  sigmaResults: "sigma_analysis_results",
  sigmaLevel: "rule_level",
  sigmaTitle: "rule_title",
  sigmaSource: "rule_source",
  sigmaId: "rule_id",
  idsResults: "crowdsourced_ids_results",
  idsSeverity: "alert_severity",
  idsMessage: "rule_msg",
  idsCategory: "rule_category",
  idsSource: "rule_source",
  idsId: "rule_id",
  sandboxVerdicts: "sandbox_verdicts",
  sandboxName: "sandbox_name",
  sandboxCategory: "category",
  sandboxConfidence: "confidence",
  sandboxClassification: "malware_classification",
  sandboxMalwareNames: "malware_names",
  gtiAssessment: "gti_assessment",
  gtiVerdict: "verdict",
  gtiSeverity: "severity",
  gtiThreatScore: "threat_score",
  gtiValue: "value",
  timesSubmitted: "times_submitted",
  uniqueSources: "unique_sources",
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

  /** An integer of any sign; digit strings are converted with a warning; null is absent. */
  integer(object: Obj | undefined, key: string, path: string): number | undefined {
    const value = own(object, key);
    if (value === undefined || value === null) return undefined;
    if (typeof value === "number" && Number.isSafeInteger(value)) return value;
    if (typeof value === "string" && /^-?\d{1,15}$/.test(value.trim())) {
      this.warn(`read \`${path}\` from a string`);
      return Number(value.trim());
    }
    this.skip(path, "an integer", value);
    return undefined;
  }

  /** A count no greater than `max` (confidences and scores out of 100). */
  bounded(object: Obj | undefined, key: string, path: string, max: number): number | undefined {
    const value = this.count(object, key, path);
    if (value === undefined || value <= max) return value;
    this.warn(`skipped \`${path}\`: \`${value}\` is over ${max}`);
    return undefined;
  }

  /** One of `values`, compared without case, after dropping `prefix` (GTI's `VERDICT_`). */
  oneOf<T extends string>(
    object: Obj | undefined,
    key: string,
    path: string,
    values: readonly T[],
    prefix = "",
  ): T | undefined {
    const value = this.string(object, key, path);
    if (value === undefined) return undefined;
    const known = enumValue(value, values, prefix);
    if (known === undefined) {
      this.warn(
        `skipped \`${path}\`: ${show(value)} is not one of ${values.map((v) => `\`${v}\``).join(", ")}`,
      );
    }
    return known;
  }

  /** A list keeping only its non-empty strings (with a warning for the others). */
  strings(object: Obj | undefined, key: string, path: string): string[] | undefined {
    const list = this.array(object, key, path);
    if (list === undefined) return undefined;
    const strings: string[] = [];
    list.forEach((item, index) => {
      if (typeof item === "string") {
        if (item !== "") strings.push(item);
      } else this.skip(`${path}[${index}]`, "a string", item);
    });
    return strings;
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

/** The one of `values` that `text` names, without case and without `prefix` (GTI's `verdict_`). */
function enumValue<T extends string>(
  text: string,
  values: readonly T[],
  prefix = "",
): T | undefined {
  let name = text.trim().toLowerCase();
  if (prefix !== "" && name.startsWith(prefix)) name = name.slice(prefix.length);
  return values.find((candidate) => candidate === name);
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

/** Sets `key` of `target` when `value` is defined: keeps absent fields absent. */
function put<T extends object, K extends keyof T>(
  target: T,
  key: K,
  value: T[K] | undefined,
): void {
  if (value !== undefined) target[key] = value;
}

/** The object's fields that are set, or undefined when none is. */
function nonEmpty<T extends object>(value: T): T | undefined {
  return Object.keys(value).length > 0 ? value : undefined;
}

/**
 * The items of a list of objects, each mapped by `item`; an item that lacks what `item` requires
 * is skipped (it returns undefined, having warned). Undefined when the list is absent, so that a
 * list VirusTotal did not send stays unknown to rules, while an empty one stays empty.
 */
function listOf<T>(
  attrs: Obj,
  key: string,
  path: string,
  reader: Reader,
  item: (entry: Obj, entryPath: string) => T | undefined,
): T[] | undefined {
  const raw = reader.array(attrs, key, `${path}${key}`);
  if (raw === undefined) return undefined;
  const items: T[] = [];
  raw.forEach((entry, index) => {
    const entryPath = `${path}${key}[${index}]`;
    if (!isObject(entry)) {
      reader.skip(entryPath, "an object", entry);
      return;
    }
    const mapped = item(entry, entryPath);
    if (mapped !== undefined) items.push(mapped);
  });
  return items;
}

/** A required text of a list item: the item is skipped without it. */
function required(reader: Reader, entry: Obj, key: string, entryPath: string): string | undefined {
  const value = reader.string(entry, key, `${entryPath}.${key}`);
  if (value === undefined) reader.warn(`skipped \`${entryPath}\`: it has no \`${key}\``);
  return value;
}

/** A required enum value of a list item: the item is skipped without one of `values`. */
function requiredOneOf<T extends string>(
  reader: Reader,
  entry: Obj,
  key: string,
  entryPath: string,
  values: readonly T[],
): T | undefined {
  const value = reader.string(entry, key, `${entryPath}.${key}`);
  if (value === undefined) {
    reader.warn(`skipped \`${entryPath}\`: it has no \`${key}\``);
    return undefined;
  }
  const known = enumValue(value, values);
  if (known === undefined) {
    reader.warn(
      `skipped \`${entryPath}\`: its \`${key}\` ${show(value)} is not one of ${values.map((v) => `\`${v}\``).join(", ")}`,
    );
  }
  return known;
}

const SIGMA_LEVELS: readonly SigmaLevel[] = ["critical", "high", "medium", "low"];
const IDS_SEVERITIES: readonly IdsSeverity[] = ["high", "medium", "low", "info"];
const SANDBOX_CATEGORIES: readonly SandboxCategory[] = [
  "malicious",
  "suspicious",
  "harmless",
  "undetected",
];
const GTI_VERDICTS: readonly GtiVerdict[] = [
  "malicious",
  "suspicious",
  "undetected",
  "benign",
  "unknown",
];
const GTI_SEVERITIES: readonly GtiSeverity[] = ["high", "medium", "low", "none", "unknown"];

/** `popular_threat_category` and `popular_threat_name`: `[{value, count}]`. */
function rankedNames(attrs: Obj, key: string, path: string, reader: Reader) {
  return listOf(attrs, key, path, reader, (entry, entryPath): NamedCount | undefined => {
    const name = required(reader, entry, VT.rankedValue, entryPath);
    if (name === undefined) return undefined;
    const named: NamedCount = { name };
    put(named, "count", reader.count(entry, VT.rankedCount, `${entryPath}.${VT.rankedCount}`));
    return named;
  });
}

/**
 * The `virustotal` section: what VirusTotal knows beside the engines' results, under the names of
 * docs/language.md. GTI's `{"value": "VERDICT_MALICIOUS"}` wrappers are unwrapped and its enum
 * values lower-cased without their prefix; a value outside an enum is skipped with a warning.
 */
function mapVirusTotalSection(
  attrs: Obj,
  path: string,
  names: string[] | undefined,
  reader: Reader,
): VirusTotalSection | undefined {
  const section: VirusTotalSection = {};
  put(section, "reputation", reader.integer(attrs, VT.reputation, `${path}${VT.reputation}`));

  const votesPath = `${path}${VT.totalVotes}`;
  const votes = reader.object(attrs, VT.totalVotes, votesPath);
  if (votes !== undefined) {
    const mapped: NonNullable<VirusTotalSection["votes"]> = {};
    put(
      mapped,
      "harmless",
      reader.count(votes, VT.votesHarmless, `${votesPath}.${VT.votesHarmless}`),
    );
    put(
      mapped,
      "malicious",
      reader.count(votes, VT.votesMalicious, `${votesPath}.${VT.votesMalicious}`),
    );
    put(section, "votes", nonEmpty(mapped));
  }

  const threatPath = `${path}${VT.threatClassification}`;
  const threat = reader.object(attrs, VT.threatClassification, threatPath);
  if (threat !== undefined) {
    put(
      section,
      "threatLabel",
      reader.string(threat, VT.suggestedThreatLabel, `${threatPath}.${VT.suggestedThreatLabel}`),
    );
    put(
      section,
      "threatCategories",
      rankedNames(threat, VT.threatCategory, `${threatPath}.`, reader),
    );
    put(section, "threatNames", rankedNames(threat, VT.threatName, `${threatPath}.`, reader));
  }

  const distributorsPath = `${path}${VT.knownDistributors}`;
  const distributors = reader.object(attrs, VT.knownDistributors, distributorsPath);
  if (distributors !== undefined) {
    const mapped: NonNullable<VirusTotalSection["knownDistributors"]> = {};
    const list = (key: string) => reader.strings(distributors, key, `${distributorsPath}.${key}`);
    put(mapped, "distributors", list(VT.distributors));
    put(mapped, "products", list(VT.distributorProducts));
    put(mapped, "fileNames", list(VT.distributorFileNames));
    put(mapped, "sources", list(VT.distributorSources));
    put(section, "knownDistributors", nonEmpty(mapped));
  }

  const text = (entry: Obj, key: string, entryPath: string) =>
    reader.string(entry, key, `${entryPath}.${key}`);
  put(
    section,
    "yaraMatches",
    listOf(attrs, VT.yaraResults, path, reader, (entry, entryPath): YaraMatch | undefined => {
      const rule = required(reader, entry, VT.yaraRule, entryPath);
      if (rule === undefined) return undefined;
      const match: YaraMatch = { rule };
      put(match, "ruleset", text(entry, VT.yaraRuleset, entryPath));
      put(match, "source", text(entry, VT.yaraSource, entryPath));
      put(match, "author", text(entry, VT.yaraAuthor, entryPath));
      put(match, "description", text(entry, VT.yaraDescription, entryPath));
      return match;
    }),
  );
  put(
    section,
    "sigmaMatches",
    listOf(attrs, VT.sigmaResults, path, reader, (entry, entryPath): SigmaMatch | undefined => {
      const level = requiredOneOf(reader, entry, VT.sigmaLevel, entryPath, SIGMA_LEVELS);
      const title = level && required(reader, entry, VT.sigmaTitle, entryPath);
      if (level === undefined || title === undefined) return undefined;
      const match: SigmaMatch = { level, title };
      put(match, "source", text(entry, VT.sigmaSource, entryPath));
      put(match, "id", text(entry, VT.sigmaId, entryPath));
      return match;
    }),
  );
  put(
    section,
    "idsAlerts",
    listOf(attrs, VT.idsResults, path, reader, (entry, entryPath): IdsAlert | undefined => {
      const severity = requiredOneOf(reader, entry, VT.idsSeverity, entryPath, IDS_SEVERITIES);
      const message = severity && required(reader, entry, VT.idsMessage, entryPath);
      if (severity === undefined || message === undefined) return undefined;
      const alert: IdsAlert = { severity, message };
      put(alert, "category", text(entry, VT.idsCategory, entryPath));
      put(alert, "source", text(entry, VT.idsSource, entryPath));
      put(alert, "id", text(entry, VT.idsId, entryPath));
      return alert;
    }),
  );

  // `sandbox_verdicts` is keyed by sandbox name; the list keeps VirusTotal's order.
  const sandboxesPath = `${path}${VT.sandboxVerdicts}`;
  const sandboxes = reader.object(attrs, VT.sandboxVerdicts, sandboxesPath);
  if (sandboxes !== undefined) {
    const verdicts: SandboxVerdict[] = [];
    for (const key of Object.keys(sandboxes)) {
      const entryPath = `${sandboxesPath}.${key}`;
      const entry = sandboxes[key];
      if (!isObject(entry)) {
        reader.skip(entryPath, "an object", entry);
        continue;
      }
      const category = requiredOneOf(
        reader,
        entry,
        VT.sandboxCategory,
        entryPath,
        SANDBOX_CATEGORIES,
      );
      if (category === undefined) continue;
      const sandbox = text(entry, VT.sandboxName, entryPath) ?? key;
      const verdict: SandboxVerdict = { sandbox, category };
      put(
        verdict,
        "confidence",
        reader.bounded(entry, VT.sandboxConfidence, `${entryPath}.${VT.sandboxConfidence}`, 100),
      );
      put(
        verdict,
        "classifications",
        reader.strings(entry, VT.sandboxClassification, `${entryPath}.${VT.sandboxClassification}`),
      );
      put(
        verdict,
        "malwareNames",
        reader.strings(entry, VT.sandboxMalwareNames, `${entryPath}.${VT.sandboxMalwareNames}`),
      );
      verdicts.push(verdict);
    }
    section.sandboxVerdicts = verdicts;
  }

  const gtiPath = `${path}${VT.gtiAssessment}`;
  const gti = reader.object(attrs, VT.gtiAssessment, gtiPath);
  if (gti !== undefined) {
    const mapped: NonNullable<VirusTotalSection["gti"]> = {};
    const inner = (key: string) => reader.object(gti, key, `${gtiPath}.${key}`);
    const valuePath = (key: string) => `${gtiPath}.${key}.${VT.gtiValue}`;
    put(
      mapped,
      "verdict",
      reader.oneOf(
        inner(VT.gtiVerdict),
        VT.gtiValue,
        valuePath(VT.gtiVerdict),
        GTI_VERDICTS,
        "verdict_",
      ),
    );
    put(
      mapped,
      "severity",
      reader.oneOf(
        inner(VT.gtiSeverity),
        VT.gtiValue,
        valuePath(VT.gtiSeverity),
        GTI_SEVERITIES,
        "severity_",
      ),
    );
    put(
      mapped,
      "threatScore",
      reader.bounded(inner(VT.gtiThreatScore), VT.gtiValue, valuePath(VT.gtiThreatScore), 100),
    );
    put(section, "gti", nonEmpty(mapped));
  }

  put(
    section,
    "timesSubmitted",
    reader.count(attrs, VT.timesSubmitted, `${path}${VT.timesSubmitted}`),
  );
  put(
    section,
    "uniqueSources",
    reader.count(attrs, VT.uniqueSources, `${path}${VT.uniqueSources}`),
  );
  put(section, "names", names);
  return nonEmpty(section);
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
  const names = reader.strings(attrs, VT.names, `${path}${VT.names}`);
  if (fileName === undefined) {
    for (const name of names ?? []) {
      fileName = baseName(name) || undefined;
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

  const section = mapVirusTotalSection(attrs, path, names, reader);
  if (section !== undefined) result.virustotal = section;

  return { ok: true, result, warnings: reader.warnings };
}
