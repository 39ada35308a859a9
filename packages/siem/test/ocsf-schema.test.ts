// Where the OCSF tests find the schema, and what they refuse: a missing repository skips them
// (unless CLEARANCE_TEST_OCSF=1), a tag at another commit than the release's is an error.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OCSF_VERSION } from "../src/ocsf.js";
import {
  loadOcsfSchema,
  locateOcsfSchemaRepo,
  OCSF_RELEASE_COMMITS,
  ocsfSuiteTitle,
} from "./support/ocsf-schema.js";

const scratch = mkdtempSync(join(tmpdir(), "clearance-ocsf-schema-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const present = scratch;
const absent = join(scratch, "absent");
const otherPresent = mkdtempSync(join(scratch, "other-"));

describe("locateOcsfSchemaRepo", () => {
  const cases: [string, NodeJS.ProcessEnv, string, string | null, RegExp | null][] = [
    ["the configured repository", { CLEARANCE_OCSF_SCHEMA_REPO: present }, absent, present, null],
    [
      "the configured repository over the default",
      { CLEARANCE_OCSF_SCHEMA_REPO: present },
      otherPresent,
      present,
      null,
    ],
    ["the default when none is configured", {}, present, present, null],
    [
      "the default when the setting is empty",
      { CLEARANCE_OCSF_SCHEMA_REPO: "" },
      present,
      present,
      null,
    ],
    [
      "nothing when the configured one is absent",
      { CLEARANCE_OCSF_SCHEMA_REPO: absent },
      present,
      null,
      /^CLEARANCE_OCSF_SCHEMA_REPO is .*absent, which does not exist$/,
    ],
    [
      "nothing when none is configured and the default is absent",
      {},
      absent,
      null,
      /^no ocsf\/ocsf-schema git repository: CLEARANCE_OCSF_SCHEMA_REPO is not set and .*absent does not exist$/,
    ],
    [
      "the repository when it is required and present",
      { CLEARANCE_TEST_OCSF: "1" },
      present,
      present,
      null,
    ],
  ];

  it.each(cases)("finds %s", (_, env, defaultRepo, repo, missing) => {
    const location = locateOcsfSchemaRepo(env, defaultRepo);
    expect(location.repo).toBe(repo);
    if (missing === null) expect(location.missing).toBeNull();
    else expect(location.missing).toMatch(missing);
  });

  it("fails when the repository is required (CLEARANCE_TEST_OCSF=1) and absent", () => {
    expect(() => locateOcsfSchemaRepo({ CLEARANCE_TEST_OCSF: "1" }, absent)).toThrow(
      /^CLEARANCE_TEST_OCSF=1 but no ocsf\/ocsf-schema git repository/,
    );
  });

  it("puts the reason for a skip in the suite's title", () => {
    const location = locateOcsfSchemaRepo({}, absent);
    expect(ocsfSuiteTitle("OCSF validator", location)).toMatch(
      /^OCSF validator \(skipped: no ocsf\/ocsf-schema git repository: .*PROVENANCE\.md\)$/,
    );
    expect(ocsfSuiteTitle("OCSF validator", { repo: present, missing: null })).toBe(
      "OCSF validator",
    );
  });
});

/** A git repository whose tag `tag` is a commit of its own, not ocsf-schema's. */
function repositoryWithTag(tag: string): string {
  const repo = mkdtempSync(join(scratch, "repo-"));
  const git = (...args: string[]) =>
    execFileSync(
      "git",
      ["-C", repo, "-c", "user.name=test", "-c", "user.email=test@example.com", ...args],
      { stdio: "ignore" },
    );
  git("init", "--quiet");
  writeFileSync(join(repo, "version.json"), `{"version":"${tag}"}\n`);
  git("add", "version.json");
  git("commit", "--quiet", "-m", "not the release");
  git("tag", tag);
  return repo;
}

describe("loadOcsfSchema refuses", () => {
  const expected = OCSF_RELEASE_COMMITS[OCSF_VERSION];
  const cases: [string, () => [string, string], RegExp][] = [
    [
      "a tag at another commit than the release's",
      () => [OCSF_VERSION, repositoryWithTag(OCSF_VERSION)],
      new RegExp(
        `^tag ${OCSF_VERSION} of .* is commit [0-9a-f]{40}, not ${expected}, the OCSF ${OCSF_VERSION} release: refusing to validate against it$`,
      ),
    ],
    [
      "a repository without the release's tag",
      () => [OCSF_VERSION, repositoryWithTag("0.0.1")],
      new RegExp(`is not a git repository with the tag ${OCSF_VERSION} of ocsf/ocsf-schema$`),
    ],
    [
      "a directory that is not a git repository",
      () => [OCSF_VERSION, mkdtempSync(join(scratch, "plain-"))],
      /is not a git repository with the tag/,
    ],
    [
      "a release with no recorded commit",
      () => ["0.0.1", repositoryWithTag("0.0.1")],
      /^no recorded ocsf-schema commit for OCSF 0\.0\.1 \(known: 1\.3\.0\)$/,
    ],
  ];

  it.each(cases)("%s", (_, arrange, message) => {
    const [version, repo] = arrange();
    expect(() => loadOcsfSchema(version, repo)).toThrow(message);
  });
});

const location = locateOcsfSchemaRepo();

describe.skipIf(location.repo === null)(
  ocsfSuiteTitle(`the OCSF ${OCSF_VERSION} schema read from ocsf-schema`, location),
  () => {
    it("is the release's commit, with the classes the renderer uses", () => {
      const schema = loadOcsfSchema(OCSF_VERSION, location.repo!);
      expect(schema.source).toEqual({
        repository: "https://github.com/ocsf/ocsf-schema",
        version: OCSF_VERSION,
        commit: OCSF_RELEASE_COMMITS[OCSF_VERSION],
      });
      expect(
        Object.fromEntries(Object.entries(schema.classes).map(([name, c]) => [name, c.uid])),
      ).toEqual({ detection_finding: 2004, entity_management: 3004, application_lifecycle: 6002 });
    });
  },
);
