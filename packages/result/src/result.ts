/**
 * The canonical analysis result: what every rule is evaluated against.
 * The JSON Schema in `result-schema.json` is the source of truth (validation and rule type-checking
 * both read it); these types mirror it for TypeScript callers.
 */

export type Verdict = "clean" | "caution" | "high_risk";
export type SignatureStatus = "valid" | "expired" | "self_signed" | "unsigned" | "invalid";

export interface ScoreComponent {
  component: string;
  label?: string;
  weight?: number;
  value?: number;
  description?: string;
}

export interface Detections {
  malicious?: number;
  suspicious?: number;
  undetected?: number;
  harmless?: number;
  failed?: number;
  unsupported?: number;
}

export interface EngineResult {
  engine: string;
  /** malicious | suspicious | undetected | harmless | failed | unsupported */
  category?: string;
  result?: string | null;
  version?: string;
}

export interface Vendor {
  name?: string;
  verified?: boolean;
  product?: string;
  version?: string;
}

export interface Signature {
  status: SignatureStatus;
  signer?: string;
  issuer?: string;
  thumbprint?: string;
  /** RFC 3339 timestamp */
  signedAt?: string;
}

export interface NamedCount {
  name: string;
  count?: number;
}

export interface YaraMatch {
  rule: string;
  ruleset?: string;
  source?: string;
  author?: string;
  description?: string;
}

export type SigmaLevel = "critical" | "high" | "medium" | "low";

export interface SigmaMatch {
  level: SigmaLevel;
  title: string;
  source?: string;
  id?: string;
}

export type IdsSeverity = "high" | "medium" | "low" | "info";

export interface IdsAlert {
  severity: IdsSeverity;
  message: string;
  category?: string;
  source?: string;
  id?: string;
}

export type SandboxCategory = "malicious" | "suspicious" | "harmless" | "undetected";

export interface SandboxVerdict {
  sandbox: string;
  category: SandboxCategory;
  confidence?: number;
  classifications?: string[];
  malwareNames?: string[];
}

export type GtiVerdict = "malicious" | "suspicious" | "undetected" | "benign" | "unknown";
export type GtiSeverity = "high" | "medium" | "low" | "none" | "unknown";

/** What VirusTotal knows beside the engines' results; present only for VirusTotal input. */
export interface VirusTotalSection {
  reputation?: number;
  votes?: { harmless?: number; malicious?: number };
  threatLabel?: string;
  threatCategories?: NamedCount[];
  threatNames?: NamedCount[];
  knownDistributors?: {
    distributors?: string[];
    products?: string[];
    fileNames?: string[];
    sources?: string[];
  };
  yaraMatches?: YaraMatch[];
  sigmaMatches?: SigmaMatch[];
  idsAlerts?: IdsAlert[];
  sandboxVerdicts?: SandboxVerdict[];
  gti?: { verdict?: GtiVerdict; severity?: GtiSeverity; threatScore?: number };
  timesSubmitted?: number;
  uniqueSources?: number;
  /** Every name the file was submitted under, directories kept. */
  names?: string[];
}

export interface AnalysisResult {
  /** 64 hex digits; normalised to lower case by validation */
  sha256: string;
  fileName?: string;
  fileSize?: number;
  contentType?: string;
  category?: string;
  trustScore?: number;
  verdict?: Verdict;
  scoreBreakdown?: ScoreComponent[];
  detections?: Detections;
  engines?: EngineResult[];
  vendor?: Vendor;
  signature?: Signature;
  /** RFC 3339 timestamp */
  firstSeen?: string;
  /** RFC 3339 timestamp */
  analyzedAt?: string;
  tags?: string[];
  virustotal?: VirusTotalSection;
  /** Unknown extra fields are kept and ignored by rules. */
  [extra: string]: unknown;
}
