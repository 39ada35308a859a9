/**
 * The package graph, as docs/architecture.md draws it: which workspace package may depend
 * on which, and that no code reaches into another package's files. An edge added for a helper
 * (the client importing the engine to convert results, the simulator importing the dry-run for a
 * random generator) fails here: give the helper a home both can depend on instead, or, when the
 * edge is meant, add it to ALLOWED and to the document.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const PACKAGES = join(ROOT, "packages");

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** Every workspace package under packages/, by directory name. */
const manifests = new Map<string, Manifest>(
  readdirSync(PACKAGES, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(PACKAGES, e.name, "package.json")))
    .map((e) => [
      e.name,
      JSON.parse(readFileSync(join(PACKAGES, e.name, "package.json"), "utf8")) as Manifest,
    ]),
);
const byName = new Map([...manifests].map(([dir, m]) => [m.name, dir]));

/** The workspace packages a manifest names, as directory names. */
function workspaceDeps(deps: Record<string, string> | undefined): string[] {
  return Object.keys(deps ?? {})
    .filter((name) => byName.has(name))
    .map((name) => byName.get(name)!)
    .sort();
}

/** The run-time edges: each package and the workspace packages its code may import. */
const ALLOWED: Record<string, string[]> = {
  options: [],
  dsl: ["options"],
  result: ["options"],
  platform: ["result"],
  testdata: ["result"],
  engine: ["dsl", "platform", "result"],
  client: ["options", "platform"],
  "platform-sim": ["options", "platform", "result", "testdata"],
  dryrun: ["engine", "options"],
  // formats and transports for SIEMs; the server drives delivery from its audit log
  siem: ["options"],
  // Santa's sync protocol and an agent that speaks it; the server serves it from its rules
  santa: [],
  // the playground replays audit entries with candidate rules as `clearance dry-run` does
  server: ["client", "dryrun", "dsl", "engine", "options", "santa", "siem"],
  // the language server: the dsl's parser, checker and formatter, the engine's compile (what
  // `clearance check` runs) and the result's input profiles the checker warns with
  lsp: ["dsl", "engine", "result"],
  cli: ["client", "dryrun", "dsl", "engine", "lsp", "platform-sim", "server"],
  // the rule language for CodeMirror 6: browser-only, its schema and checker given by its caller
  "codemirror-lang": [],
  // a browser app: it reads the server over HTTP only, and imports no Clearance code but the
  // editor's language package, which holds none either
  console: ["codemirror-lang"],
};

/** Edges for tests only (a package's tests may also import what the package itself may). */
const ALLOWED_DEV: Record<string, string[]> = {
  client: ["platform-sim"],
  dryrun: ["testdata"],
  server: ["platform-sim"],
  testdata: ["engine"],
  // the console's browser test starts a real server with recorded decisions
  console: ["server"],
};

/** Edges that existed only for a helper, and where the helper lives now. */
const NEVER: [from: string, to: string, because: string][] = [
  ["client", "engine", "the client converts results with @clearance/platform"],
  ["platform-sim", "dryrun", "the simulator's generator and random source are @clearance/testdata"],
  ["platform-sim", "engine", "the simulator's conversion is @clearance/platform"],
  ["platform", "engine", "the engine calls the platform's conversion: the reverse is a cycle"],
  ["testdata", "dryrun", "the generator serves the dry-run's tests, not the other way round"],
];

function closure(from: string, edges: (dir: string) => string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (dir: string) => {
    for (const to of edges(dir)) {
      if (seen.has(to)) continue;
      seen.add(to);
      visit(to);
    }
  };
  visit(from);
  return seen;
}

const runtime = (dir: string) => workspaceDeps(manifests.get(dir)?.dependencies);
const dev = (dir: string) => workspaceDeps(manifests.get(dir)?.devDependencies);

describe("the package graph", () => {
  it("lists every workspace package", () => {
    expect([...manifests.keys()].sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it.each([...manifests.keys()])("%s depends on exactly its allowed packages", (dir) => {
    expect(runtime(dir)).toEqual([...(ALLOWED[dir] ?? [])].sort());
    expect(dev(dir)).toEqual([...(ALLOWED_DEV[dir] ?? [])].sort());
  });

  it.each(NEVER)("%s never reaches %s, even through another package (%s)", (from, to) => {
    expect([...closure(from, runtime)]).not.toContain(to);
  });

  it("has no cycle, tests included", () => {
    const all = (dir: string) => [...runtime(dir), ...dev(dir)];
    for (const dir of manifests.keys()) expect([...closure(dir, all)]).not.toContain(dir);
  });

  it.each([...manifests.keys()])("%s's tsconfig references exactly its dependencies", (dir) => {
    const tsconfig = JSON.parse(readFileSync(join(PACKAGES, dir, "tsconfig.json"), "utf8")) as {
      references?: { path: string }[];
    };
    const references = (tsconfig.references ?? []).map((r) => r.path.replace(/^\.\.\//, ""));
    expect(references.sort()).toEqual(runtime(dir));
  });
});

// ---------------------------------------------------------------------------------------------
// Imports in the code

/** Source files of the packages, the benchmarks and the scripts (no build output, no deps). */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist" || entry.name === "out") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*${}\s,]+?\s+from\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Every module specifier a file imports or re-exports, with its line. */
function importsOf(path: string): { specifier: string; line: number }[] {
  const text = readFileSync(path, "utf8");
  const found: { specifier: string; line: number }[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const specifier = m[1] ?? m[2]!;
    found.push({ specifier, line: text.slice(0, m.index).split("\n").length });
  }
  return found;
}

/** The packages/<dir> a path is in, or undefined outside packages/. */
function packageOf(path: string): string | undefined {
  const rel = relative(PACKAGES, path);
  return rel.startsWith("..") ? undefined : rel.split(sep)[0];
}

const files = [PACKAGES, join(ROOT, "bench"), join(ROOT, "scripts")].flatMap(sourceFiles);

describe("imports", () => {
  it("are found in the files (the scanner itself works)", () => {
    const client = importsOf(join(PACKAGES, "client", "src", "client.ts")).map((i) => i.specifier);
    expect(client).toContain("@clearance/platform");
    expect(client).toContain("./errors.js");
    expect(files.length).toBeGreaterThan(100);
  });

  it("never reach into another package's files, by path or by package subpath", () => {
    const offences: string[] = [];
    for (const file of files) {
      const own = packageOf(file);
      for (const { specifier, line } of importsOf(file)) {
        const where = `${relative(ROOT, file)}:${line} imports \`${specifier}\``;
        if (/^@clearance\/[^/]+\/(src|dist)(\/|$)/.test(specifier)) offences.push(where);
        if (specifier.startsWith(".")) {
          const target = resolve(dirname(file), specifier);
          const into = packageOf(target);
          if (into === undefined || into === own) continue;
          // A package reaches another only through its name. The repository's own scripts are
          // in no package: they may run a package's build output, never its sources.
          const built = target.startsWith(join(PACKAGES, into, "dist") + sep);
          if (own !== undefined || !built) offences.push(where);
        }
      }
    }
    expect(offences).toEqual([]);
  });

  it("name only declared packages: code imports what its manifest lists", () => {
    const bench = JSON.parse(readFileSync(join(ROOT, "bench", "package.json"), "utf8")) as Manifest;
    const offences: string[] = [];
    for (const file of files) {
      const own = packageOf(file);
      let allowed: Set<string>;
      if (own !== undefined) {
        // src/ may import the package's dependencies; its tests, its devDependencies too.
        const inSrc = relative(join(PACKAGES, own), file).split(sep)[0] === "src";
        allowed = new Set([own, ...runtime(own), ...(inSrc ? [] : dev(own))]);
      } else if (relative(join(ROOT, "bench"), file).startsWith("..")) continue;
      else allowed = new Set(workspaceDeps(bench.dependencies));
      for (const { specifier, line } of importsOf(file)) {
        const name = /^(@clearance\/[^/]+)/.exec(specifier)?.[1];
        if (name === undefined) continue;
        const dir = byName.get(name);
        if (dir === undefined || !allowed.has(dir))
          offences.push(`${relative(ROOT, file)}:${line} imports \`${specifier}\``);
      }
    }
    expect(offences).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Editor packages

const EDITORS = join(ROOT, "editors");

describe("editor packages (editors/*)", () => {
  const editors = readdirSync(EDITORS, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(EDITORS, e.name, "package.json")))
    .map((e) => e.name)
    .sort();

  it("are the VS Code extension", () => {
    expect(editors).toEqual(["vscode"]);
  });

  // An editor starts the installed CLI (`clearance lsp`) and speaks LSP to it: it ships without
  // Clearance's code, so an extension never runs a different checker than `clearance check`.
  it.each(editors)("%s depends on no Clearance package and imports none", (dir) => {
    const manifest = JSON.parse(
      readFileSync(join(EDITORS, dir, "package.json"), "utf8"),
    ) as Manifest;
    const names = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });
    expect(names.filter((name) => name.startsWith("@clearance/"))).toEqual([]);
    const offences = sourceFiles(join(EDITORS, dir)).flatMap((file) =>
      importsOf(file)
        .filter(({ specifier }) => {
          if (specifier.startsWith("@clearance/")) return true;
          if (!specifier.startsWith(".")) return false;
          return relative(join(EDITORS, dir), resolve(dirname(file), specifier)).startsWith("..");
        })
        .map(({ specifier, line }) => `${relative(ROOT, file)}:${line} imports \`${specifier}\``),
    );
    expect(offences).toEqual([]);
  });
});
