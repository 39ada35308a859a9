// Test support (exported as @clearance/engine/testing): the engine's, the CLI's and the server's
// tests load the same hostile rule directories.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/*
 * Rule directories a hostile rule author could write: lists named by `../` and absolute paths,
 * host files (`/proc/self/environ`, `/etc/passwd`, `/dev/zero`), a FIFO, symlinks in and out of
 * the root for list files, rule files and directories, lists over the byte limits. Each case says
 * what the loader must answer: diagnostics by code, at the text they underline (for a list, the
 * quoted path in the rule file) or at the file they name.
 */

/** A secret outside the rule directory: no diagnostic, decision or output may contain it. */
export const OUTSIDE_SECRET = "OUTSIDE-SECRET-4f1d";

/** Something only the real /proc/self/environ holds: the value of one of this process's variables. */
export function environMarker(): string {
  const entries = readFileSync("/proc/self/environ", "utf8").split("\0");
  const long = entries.map((e) => e.slice(e.indexOf("=") + 1)).filter((v) => v.length >= 12);
  return long.sort((a, b) => b.length - a.length)[0] ?? "PATH";
}

/** The first line of /etc/passwd: printing it would echo a host file. */
export function passwdLine(): string {
  return readFileSync("/etc/passwd", "utf8").split("\n")[0]!;
}

export interface RuleDir {
  /** the rule directory */
  root: string;
  /** a sibling of the root, holding `secret.txt` and `secrets/` */
  outside: string;
  remove(): void;
}

/** A temporary `rules/` beside an `outside/` holding the secret. */
export function makeRuleDir(): RuleDir {
  const base = mkdtempSync(join(tmpdir(), "clearance-confine-"));
  const root = join(base, "rules");
  const outside = join(base, "outside");
  mkdirSync(root);
  mkdirSync(join(outside, "secrets"), { recursive: true });
  writeFileSync(join(outside, "secret.txt"), `${OUTSIDE_SECRET}\n`);
  writeFileSync(join(outside, "secrets", "names.txt"), `${OUTSIDE_SECRET}\n`);
  writeFileSync(
    join(outside, "stolen.rules"),
    `rule stolen { when true deny "${OUTSIDE_SECRET}" }\n`,
  );
  return { root, outside, remove: () => rmSync(base, { recursive: true, force: true }) };
}

export function write(path: string, text: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

export function mkfifo(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  execFileSync("mkfifo", [path]);
}

export function link(target: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
}

/** A rule using list `x` (or hash list `x`) declared from `path`, showing it in the reason. */
export const usesList = (path: string) =>
  `list x from "${path}"\nrule r { when fileName in x deny "listed: {x}" }\n`;
export const usesHashlist = (path: string) =>
  `hashlist x from "${path}"\nrule r { when sha256 in x deny "listed" }\n`;

export interface HostileCase {
  name: string;
  /** writes the case into the rule directory (and its `outside` sibling) */
  setup(dir: RuleDir): void;
  /** limits to load with */
  limits?: Record<string, number>;
  /** the diagnostics expected: code, and the underlined text or the file named */
  expect: { code: string; at?: string; file?: (dir: RuleDir) => string }[];
}

export const HOSTILE_CASES: HostileCase[] = [
  {
    name: "a `../` path out of the rule directory",
    setup: (d) => write(join(d.root, "a.rules"), usesList("../outside/secret.txt")),
    expect: [{ code: "path_outside_root", at: '"../outside/secret.txt"' }],
  },
  {
    name: "a `../` path from a subdirectory, out of the rule directory",
    setup: (d) => write(join(d.root, "teams", "a.rules"), usesList("../../outside/secret.txt")),
    expect: [{ code: "path_outside_root", at: '"../../outside/secret.txt"' }],
  },
  {
    name: "an absolute path to a file outside",
    setup: (d) => write(join(d.root, "a.rules"), usesList(join(d.outside, "secret.txt"))),
    expect: [{ code: "list_path_absolute" }],
  },
  {
    name: "an absolute path even to a file inside",
    setup: (d) => {
      write(join(d.root, "names.txt"), "setup.exe\n");
      write(join(d.root, "a.rules"), usesList(join(d.root, "names.txt")));
    },
    expect: [{ code: "list_path_absolute" }],
  },
  {
    name: "/proc/self/environ",
    setup: (d) => write(join(d.root, "a.rules"), usesList("/proc/self/environ")),
    expect: [{ code: "list_path_absolute", at: '"/proc/self/environ"' }],
  },
  {
    name: "/etc/passwd as a hash list",
    setup: (d) => write(join(d.root, "a.rules"), usesHashlist("/etc/passwd")),
    expect: [{ code: "list_path_absolute", at: '"/etc/passwd"' }],
  },
  {
    name: "/dev/zero",
    setup: (d) => write(join(d.root, "a.rules"), usesList("/dev/zero")),
    expect: [{ code: "list_path_absolute", at: '"/dev/zero"' }],
  },
  {
    name: "a symlinked list file to /proc/self/environ",
    setup: (d) => {
      link("/proc/self/environ", join(d.root, "lists", "env.txt"));
      write(join(d.root, "a.rules"), usesList("lists/env.txt"));
    },
    expect: [{ code: "symlink_outside_root", at: '"lists/env.txt"' }],
  },
  {
    name: "a symlinked hash list to /etc/passwd",
    setup: (d) => {
      link("/etc/passwd", join(d.root, "lists", "bad.sha256"));
      write(join(d.root, "a.rules"), usesHashlist("lists/bad.sha256"));
    },
    expect: [{ code: "symlink_outside_root", at: '"lists/bad.sha256"' }],
  },
  {
    name: "a symlinked list file to /dev/zero",
    setup: (d) => {
      link("/dev/zero", join(d.root, "lists", "zero.txt"));
      write(join(d.root, "a.rules"), usesList("lists/zero.txt"));
    },
    expect: [{ code: "symlink_outside_root", at: '"lists/zero.txt"' }],
  },
  {
    name: "a relative symlink climbing out",
    setup: (d) => {
      link("../../outside/secret.txt", join(d.root, "lists", "names.txt"));
      write(join(d.root, "a.rules"), usesList("lists/names.txt"));
    },
    expect: [{ code: "symlink_outside_root", at: '"lists/names.txt"' }],
  },
  {
    name: "a list under a symlinked directory leading outside",
    setup: (d) => {
      link(join(d.outside, "secrets"), join(d.root, "shared"));
      write(join(d.root, "a.rules"), usesList("shared/names.txt"));
    },
    // the directory itself is reported by the walk, the list by its declaration
    expect: [
      { code: "symlink_outside_root", at: '"shared/names.txt"' },
      { code: "symlink_outside_root", file: (d) => join(d.root, "shared") },
    ],
  },
  {
    name: "a FIFO as a list file",
    setup: (d) => {
      mkfifo(join(d.root, "lists", "pipe.txt"));
      write(join(d.root, "a.rules"), usesList("lists/pipe.txt"));
    },
    expect: [{ code: "not_a_regular_file", at: '"lists/pipe.txt"' }],
  },
  {
    name: "a directory as a list file",
    setup: (d) => {
      mkdirSync(join(d.root, "lists"), { recursive: true });
      write(join(d.root, "a.rules"), usesList("lists"));
    },
    expect: [{ code: "not_a_regular_file", at: '"lists"' }],
  },
  {
    name: "a FIFO named like a rule file",
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      mkfifo(join(d.root, "b.rules"));
    },
    expect: [{ code: "not_a_regular_file", file: (d) => join(d.root, "b.rules") }],
  },
  {
    name: "a symlinked rule file leading outside",
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      link(join(d.outside, "stolen.rules"), join(d.root, "stolen.rules"));
    },
    expect: [{ code: "symlink_outside_root", file: (d) => join(d.root, "stolen.rules") }],
  },
  {
    name: "a symlinked directory of rule files leading outside",
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      link(d.outside, join(d.root, "vendor"));
    },
    expect: [{ code: "symlink_outside_root", file: (d) => join(d.root, "vendor") }],
  },
  {
    name: "a symlinked rule file pointing nowhere",
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      link(join(d.root, "missing.rules"), join(d.root, "b.rules"));
    },
    expect: [{ code: "file_unreadable", file: (d) => join(d.root, "b.rules") }],
  },
  {
    name: "a list file over maxListFileBytes",
    limits: { maxListFileBytes: 64 },
    setup: (d) => {
      write(join(d.root, "names.txt"), `${"a".repeat(64)}\n`);
      write(join(d.root, "a.rules"), usesList("names.txt"));
    },
    expect: [{ code: "list_file_too_large", at: '"names.txt"' }],
  },
  {
    name: "a list file taking the rule set over maxRulesetBytes",
    limits: { maxRulesetBytes: 200 },
    setup: (d) => {
      write(join(d.root, "names.txt"), `${"a".repeat(150)}\n`);
      write(join(d.root, "a.rules"), usesList("names.txt"));
    },
    expect: [{ code: "ruleset_too_large", at: '"names.txt"' }],
  },
  {
    name: "rule files over maxRulesetBytes",
    limits: { maxRulesetBytes: 59 }, // two files of 30 bytes
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      write(join(d.root, "b.rules"), 'rule s { when true deny "y" }\n');
    },
    expect: [{ code: "ruleset_too_large", file: (d) => join(d.root, "b.rules") }],
  },
  {
    name: "exceptions.json symlinked to /etc/passwd",
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      link("/etc/passwd", join(d.root, "exceptions.json"));
    },
    expect: [{ code: "symlink_outside_root", file: (d) => join(d.root, "exceptions.json") }],
  },
  {
    name: "exceptions.json symlinked to /proc/self/environ",
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      link("/proc/self/environ", join(d.root, "exceptions.json"));
    },
    expect: [{ code: "symlink_outside_root", file: (d) => join(d.root, "exceptions.json") }],
  },
  {
    name: "exceptions.json as a relative symlink climbing out",
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      link("../outside/secret.txt", join(d.root, "exceptions.json"));
    },
    expect: [{ code: "symlink_outside_root", file: (d) => join(d.root, "exceptions.json") }],
  },
  {
    name: "a FIFO as exceptions.json",
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      mkfifo(join(d.root, "exceptions.json"));
    },
    expect: [{ code: "not_a_regular_file", file: (d) => join(d.root, "exceptions.json") }],
  },
  {
    name: "exceptions.json over maxExceptionsFileBytes",
    limits: { maxExceptionsFileBytes: 64 },
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      write(join(d.root, "exceptions.json"), `[${" ".repeat(64)}]\n`);
    },
    expect: [{ code: "exceptions_file_too_large", file: (d) => join(d.root, "exceptions.json") }],
  },
];

/** Rule directories that must load: symlinks inside the root are followed. */
export const INSIDE_CASES: { name: string; setup(dir: RuleDir): void; rules: string[] }[] = [
  {
    name: "a `../` path that stays inside",
    setup: (d) => {
      write(join(d.root, "lists", "names.txt"), "setup.exe\n");
      write(join(d.root, "teams", "a.rules"), usesList("../lists/names.txt"));
    },
    rules: ["r"],
  },
  {
    name: "a symlinked list file inside the root",
    setup: (d) => {
      write(join(d.root, "data", "names.txt"), "setup.exe\n");
      link("../data/names.txt", join(d.root, "lists", "names.txt"));
      write(join(d.root, "a.rules"), usesList("lists/names.txt"));
    },
    rules: ["r"],
  },
  {
    name: "a symlinked rule file and directory inside the root",
    setup: (d) => {
      // dot-directories are not walked: reached only through the symlinks
      write(join(d.root, ".store", "one.rules"), 'rule one { when true deny "1" }\n');
      write(join(d.root, ".more", "two.rules"), 'rule two { when true deny "2" }\n');
      link(".store/one.rules", join(d.root, "one.rules"));
      link(".more", join(d.root, "more"));
    },
    rules: ["one", "two"],
  },
  {
    name: "a symlinked directory looping back to the root",
    setup: (d) => {
      write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
      link("..", join(d.root, "sub", "loop"));
    },
    rules: ["r"],
  },
];
