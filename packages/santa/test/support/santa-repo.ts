// Santa's own test fixtures, read at test time from a git mirror of Santa's repository and never
// copied here. Provenance: github.com/northpolesec/santa, Source/santasyncservice/testdata/, as of
// commit 5f31541e (2026), Apache-2.0.
//
// CLEARANCE_SANTA_REPO names the mirror's git directory; without it the tests that need it skip
// and say why, unless CLEARANCE_TEST_SANTA=1 (CI), which makes them fail instead. A value that
// names no repository always fails: a mistyped path should not pass as a skip.

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

export type SantaRepo =
  | { kind: "found"; gitDir: string }
  | { kind: "skip"; reason: string }
  | { kind: "error"; reason: string };

export function locateSantaRepo(env: NodeJS.ProcessEnv): SantaRepo {
  const gitDir = env.CLEARANCE_SANTA_REPO;
  const required = env.CLEARANCE_TEST_SANTA === "1";
  if (!gitDir)
    return required
      ? { kind: "error", reason: "CLEARANCE_TEST_SANTA=1 but CLEARANCE_SANTA_REPO is not set" }
      : { kind: "skip", reason: "CLEARANCE_SANTA_REPO is not set" };
  if (!existsSync(gitDir))
    return { kind: "error", reason: `CLEARANCE_SANTA_REPO is ${gitDir}, which does not exist` };
  try {
    execFileSync("git", ["--git-dir", gitDir, "rev-parse", "--verify", "HEAD"], { stdio: "pipe" });
  } catch {
    return {
      kind: "error",
      reason: `CLEARANCE_SANTA_REPO is ${gitDir}, which is no git repository`,
    };
  }
  return { kind: "found", gitDir };
}

/** A file of Santa's sync service test data, as bytes. */
export function santaTestdata(gitDir: string, name: string): Buffer {
  return execFileSync(
    "git",
    ["--git-dir", gitDir, "show", `HEAD:Source/santasyncservice/testdata/${name}`],
    { maxBuffer: 16 * 1024 * 1024 },
  );
}

/** A JSON file of Santa's sync service test data, parsed. */
export function santaJson(gitDir: string, name: string): unknown {
  return JSON.parse(santaTestdata(gitDir, name).toString("utf8"));
}

export const santaRepo = locateSantaRepo(process.env);
/** For a describe's name: why it is skipped, if it is. */
export const santaSkipNote = santaRepo.kind === "skip" ? ` (skipped: ${santaRepo.reason})` : "";
