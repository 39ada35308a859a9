/**
 * Input profiles: which fields of the canonical result each kind of input can ever carry.
 *
 * A rule set may declare the inputs it will see (`inputs canonical, virustotal`); the checker then
 * warns about a rule that needs a field one of them never carries, since such a rule can never
 * fire on that input (`rule_never_fires_on_input`). The table is declared once, here, beside the
 * schema it describes: the engine passes it to the checker, and tests in packages/engine keep it
 * true against the adapters (no mapped input ever carries a field outside its profile).
 *
 * A field is written as a path: `detections.malicious` for a field of an object, `engines[].result`
 * for a field of each item of a list. Objects and lists are listed too (`signature`, `engines`).
 */

/** Every field of the canonical result (`result-schema.json`; a test keeps the two equal). */
export const CANONICAL_FIELDS: readonly string[] = Object.freeze([
  "sha256",
  "fileName",
  "fileSize",
  "contentType",
  "category",
  "trustScore",
  "verdict",
  "scoreBreakdown",
  "scoreBreakdown[].component",
  "scoreBreakdown[].label",
  "scoreBreakdown[].weight",
  "scoreBreakdown[].value",
  "scoreBreakdown[].description",
  "detections",
  "detections.malicious",
  "detections.suspicious",
  "detections.undetected",
  "detections.harmless",
  "detections.failed",
  "detections.unsupported",
  "engines",
  "engines[].engine",
  "engines[].category",
  "engines[].result",
  "engines[].version",
  "vendor",
  "vendor.name",
  "vendor.verified",
  "vendor.product",
  "vendor.version",
  "signature",
  "signature.status",
  "signature.signer",
  "signature.issuer",
  "signature.thumbprint",
  "signature.signedAt",
  "firstSeen",
  "analyzedAt",
  "tags",
  "virustotal",
  "virustotal.reputation",
  "virustotal.votes",
  "virustotal.votes.harmless",
  "virustotal.votes.malicious",
  "virustotal.threatLabel",
  "virustotal.threatCategories",
  "virustotal.threatCategories[].name",
  "virustotal.threatCategories[].count",
  "virustotal.threatNames",
  "virustotal.threatNames[].name",
  "virustotal.threatNames[].count",
  "virustotal.knownDistributors",
  "virustotal.knownDistributors.distributors",
  "virustotal.knownDistributors.products",
  "virustotal.knownDistributors.fileNames",
  "virustotal.knownDistributors.sources",
  "virustotal.yaraMatches",
  "virustotal.yaraMatches[].rule",
  "virustotal.yaraMatches[].ruleset",
  "virustotal.yaraMatches[].source",
  "virustotal.yaraMatches[].author",
  "virustotal.yaraMatches[].description",
  "virustotal.sigmaMatches",
  "virustotal.sigmaMatches[].level",
  "virustotal.sigmaMatches[].title",
  "virustotal.sigmaMatches[].source",
  "virustotal.sigmaMatches[].id",
  "virustotal.idsAlerts",
  "virustotal.idsAlerts[].severity",
  "virustotal.idsAlerts[].message",
  "virustotal.idsAlerts[].category",
  "virustotal.idsAlerts[].source",
  "virustotal.idsAlerts[].id",
  "virustotal.sandboxVerdicts",
  "virustotal.sandboxVerdicts[].sandbox",
  "virustotal.sandboxVerdicts[].category",
  "virustotal.sandboxVerdicts[].confidence",
  "virustotal.sandboxVerdicts[].classifications",
  "virustotal.sandboxVerdicts[].malwareNames",
  "virustotal.gti",
  "virustotal.gti.verdict",
  "virustotal.gti.severity",
  "virustotal.gti.threatScore",
  "virustotal.timesSubmitted",
  "virustotal.uniqueSources",
  "virustotal.names",
]);

/** What VirusTotal has no value for: the trust score is the platform's own (docs/language.md). */
const PLATFORM_ONLY = new Set([
  "trustScore",
  "verdict",
  "scoreBreakdown",
  "scoreBreakdown[].component",
  "scoreBreakdown[].label",
  "scoreBreakdown[].weight",
  "scoreBreakdown[].value",
  "scoreBreakdown[].description",
]);

/** What only VirusTotal reports: the `virustotal` section. */
const VIRUSTOTAL_ONLY = new Set(
  CANONICAL_FIELDS.filter((field) => field === "virustotal" || field.startsWith("virustotal.")),
);

/** The inputs a rule set can declare, in the order they are listed in messages. */
export type InputProfileName = "canonical" | "platform" | "virustotal";

/**
 * For each input, the fields it can ever carry:
 * - `canonical`: a canonical result sent as is may carry any field of the schema;
 * - `platform`: a platform file object, mapped by `@clearance/platform` (`platformToCanonical`),
 *   carries every canonical field but the `virustotal` section (the platform computes the trust
 *   score and verdict);
 * - `virustotal`: a VirusTotal v3 file object, mapped by the engine's adapter (`fromVirusTotal`),
 *   never has a trust score, a verdict or a score breakdown.
 */
export const INPUT_PROFILES: Readonly<Record<InputProfileName, ReadonlySet<string>>> =
  Object.freeze({
    canonical: new Set(CANONICAL_FIELDS),
    platform: new Set(CANONICAL_FIELDS.filter((field) => !VIRUSTOTAL_ONLY.has(field))),
    virustotal: new Set(CANONICAL_FIELDS.filter((field) => !PLATFORM_ONLY.has(field))),
  });

/**
 * The field paths a value carries, in the notation above: every key of the object, and of the
 * objects and list items inside it, whose value is not `null` (a `null` field is unknown to rules,
 * as if absent). Keys the schema does not know are listed too, so a test can catch them.
 */
export function presentFields(value: unknown): Set<string> {
  const fields = new Set<string>();
  const visit = (node: unknown, prefix: string): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item, `${prefix}[]`);
      return;
    }
    if (node === null || typeof node !== "object") return;
    for (const [key, child] of Object.entries(node)) {
      if (child === null || child === undefined) continue;
      const path = prefix === "" ? key : `${prefix}.${key}`;
      fields.add(path);
      visit(child, path);
    }
  };
  visit(value, "");
  return fields;
}
