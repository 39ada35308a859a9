// Where the OCSF schema the tests validate against comes from. No package publishes it, and what
// the `fetch` tool brings may not be committed, so the tests read it when they run from a git
// repository of ocsf/ocsf-schema: CLEARANCE_OCSF_SCHEMA_REPO, else the workplace mirror when it
// exists. The release's tag must be the commit recorded here (test/schemas/PROVENANCE.md); its
// files are extracted to a temporary directory, compiled, and the result cached in the system's
// temporary directory, keyed by the commit and by the compiler's own source, so a test run
// compiles at most once and a changed compiler never reads a stale cache.
// Without a repository the OCSF validation tests skip and say why, unless CLEARANCE_TEST_OCSF=1
// (CI), which makes that an error.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileOcsfSchema } from "./ocsf-schema-compile.js";
import type { OcsfSchema } from "./ocsf-validate.js";

/** The workplace's mirror of ocsf/ocsf-schema (a bare git repository), used when present. */
export const DEFAULT_OCSF_SCHEMA_REPO = "/work/.mirror/ocsf+ocsf-schema/repo";

/** Each release the renderer may target: its tag's commit in ocsf/ocsf-schema. */
export const OCSF_RELEASE_COMMITS: Readonly<Record<string, string>> = Object.freeze({
  "1.3.0": "c8bde8c4cc7e93bb4a36e873623bbe099da22fb5",
});

/** The event classes Clearance renders (src/ocsf.ts); only these and what they use are compiled. */
export const OCSF_CLASSES = Object.freeze([
  "detection_finding",
  "entity_management",
  "application_lifecycle",
]);

/** The schema files the compiler reads; the rest of the repository is not extracted. */
const SCHEMA_PATHS = [
  "version.json",
  "dictionary.json",
  "categories.json",
  "events",
  "objects",
  "includes",
  "profiles",
];

export interface OcsfSchemaLocation {
  /** The git repository to read, or null when there is none. */
  repo: string | null;
  /** Why there is none (for the skip message), or null. */
  missing: string | null;
}

/**
 * The repository the OCSF tests read. Its absence is reported, for the tests to skip, except
 * under CLEARANCE_TEST_OCSF=1, where it is an error so CI cannot pass by skipping.
 */
export function locateOcsfSchemaRepo(
  env: NodeJS.ProcessEnv = process.env,
  defaultRepo: string = DEFAULT_OCSF_SCHEMA_REPO,
): OcsfSchemaLocation {
  const configured = env.CLEARANCE_OCSF_SCHEMA_REPO;
  let missing: string | null = null;
  if (configured !== undefined && configured !== "") {
    if (existsSync(configured)) return { repo: configured, missing: null };
    missing = `CLEARANCE_OCSF_SCHEMA_REPO is ${configured}, which does not exist`;
  } else {
    if (existsSync(defaultRepo)) return { repo: defaultRepo, missing: null };
    missing = `no ocsf/ocsf-schema git repository: CLEARANCE_OCSF_SCHEMA_REPO is not set and ${defaultRepo} does not exist`;
  }
  if (env.CLEARANCE_TEST_OCSF === "1") throw new Error(`CLEARANCE_TEST_OCSF=1 but ${missing}`);
  return { repo: null, missing };
}

/** A describe title that carries the skip reason when the repository is missing. */
export function ocsfSuiteTitle(title: string, location: OcsfSchemaLocation): string {
  return location.missing === null
    ? title
    : `${title} (skipped: ${location.missing}; see packages/siem/test/schemas/PROVENANCE.md)`;
}

const compiled = new Map<string, OcsfSchema>();

/** The OCSF `version` schema, compiled from `repo`'s tag `version` at its recorded commit. */
export function loadOcsfSchema(version: string, repo: string): OcsfSchema {
  const commit = releaseCommit(version, repo);
  const cacheFile = join(tmpdir(), "clearance-ocsf-schema", `${commit}-${compilerKey()}.json`);
  const known = compiled.get(cacheFile);
  if (known) return known;
  const schema = readCache(cacheFile) ?? compileAndCache(repo, commit, cacheFile);
  if (schema.source.version !== version) {
    throw new Error(
      `tag ${version} of ${repo} holds OCSF ${schema.source.version} (version.json), not ${version}`,
    );
  }
  compiled.set(cacheFile, schema);
  return schema;
}

/** The commit of `repo`'s tag `version`, refused unless it is the one recorded for the release. */
function releaseCommit(version: string, repo: string): string {
  const expected = OCSF_RELEASE_COMMITS[version];
  if (expected === undefined) {
    throw new Error(
      `no recorded ocsf-schema commit for OCSF ${version} (known: ${Object.keys(OCSF_RELEASE_COMMITS).join(", ")})`,
    );
  }
  let actual: string;
  try {
    actual = git(repo, ["rev-parse", "--verify", "--quiet", `refs/tags/${version}^{commit}`])
      .toString("utf8")
      .trim();
  } catch {
    throw new Error(`${repo} is not a git repository with the tag ${version} of ocsf/ocsf-schema`);
  }
  if (actual !== expected) {
    throw new Error(
      `tag ${version} of ${repo} is commit ${actual}, not ${expected}, the OCSF ${version} release: refusing to validate against it`,
    );
  }
  return actual;
}

/** Changes whenever the compiler or the class list does, so an old cache is not read. */
function compilerKey(): string {
  const source = readFileSync(new URL("./ocsf-schema-compile.ts", import.meta.url));
  return createHash("sha256")
    .update(source)
    .update(OCSF_CLASSES.join(","))
    .digest("hex")
    .slice(0, 16);
}

function readCache(file: string): OcsfSchema | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as OcsfSchema;
  } catch {
    return null; // an unreadable cache is compiled again
  }
}

function compileAndCache(repo: string, commit: string, cacheFile: string): OcsfSchema {
  const checkout = mkdtempSync(join(tmpdir(), "clearance-ocsf-schema-"));
  try {
    const archive = git(repo, ["archive", "--format=tar", commit, "--", ...SCHEMA_PATHS]);
    execFileSync("tar", ["-x", "-C", checkout], { input: archive });
    const schema = compileOcsfSchema(checkout, commit, OCSF_CLASSES);
    mkdirSync(join(cacheFile, ".."), { recursive: true });
    // written aside and renamed: test files compile in parallel workers, none may read half a file
    const partial = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(schema));
    renameSync(partial, cacheFile);
    return schema;
  } finally {
    rmSync(checkout, { recursive: true, force: true });
  }
}

function git(repo: string, args: string[]): Buffer {
  return execFileSync("git", ["-C", repo, ...args], {
    maxBuffer: 256 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
}
