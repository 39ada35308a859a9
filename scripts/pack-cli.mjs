#!/usr/bin/env node
// `pnpm pack:cli [--out DIR]`: the `clearance` command as one npm tarball that installs anywhere
// with `npm install -g <tarball>` (Node.js and npm only; no pnpm, no clone of this repository).
//
// The workspace packages (@clearance/*) are not published, so the tarball carries them as bundled
// dependencies: each one's built dist/ and a package.json whose `workspace:*` ranges are replaced
// by the version. Third-party dependencies stay ordinary dependencies, pinned to the versions
// this workspace is tested with, so npm installs them from the registry, including
// better-sqlite3's native build for the installing machine (a prebuilt binary or a compile).
// Run `pnpm build` first (`pnpm install` does); the script refuses to pack a missing build.
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const ROOT = resolve(import.meta.dirname, "..");
const PACKAGES = join(ROOT, "packages");

const { values } = parseArgs({
  options: { out: { type: "string", default: join(ROOT, "out") } },
  strict: true,
});
const outDir = resolve(values.out);

const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));

/** Workspace package directories by name: every packages/* with a manifest. */
const workspace = new Map();
for (const entry of readdirSync(PACKAGES, { withFileTypes: true })) {
  const manifestPath = join(PACKAGES, entry.name, "package.json");
  if (!entry.isDirectory() || !existsSync(manifestPath)) continue;
  const manifest = readJson(manifestPath);
  workspace.set(manifest.name, { dir: join(PACKAGES, entry.name), manifest });
}

/** The workspace packages the CLI needs at run time, the CLI first. */
function closure(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  for (const dep of Object.keys(workspace.get(name).manifest.dependencies ?? {}))
    if (workspace.has(dep)) closure(dep, seen);
  return seen;
}
const included = [...closure("@clearance/cli")];

/** The version of `dep` installed for the workspace package in `dir` (pnpm links direct deps). */
function installedVersion(dir, dep) {
  const path = join(dir, "node_modules", dep, "package.json");
  if (!existsSync(path)) throw new Error(`${dep} is not installed in ${dir}: run pnpm install`);
  return readJson(path).version;
}

const external = new Map();
for (const name of included) {
  const { dir, manifest } = workspace.get(name);
  if (!existsSync(join(dir, "dist"))) throw new Error(`${name} has no dist/: run pnpm build first`);
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (workspace.has(dep)) continue;
    const version = installedVersion(dir, dep);
    const known = external.get(dep);
    if (known && known !== version)
      throw new Error(`${dep} is installed at ${known} and ${version}: align the ranges`);
    external.set(dep, version);
  }
}

/** A workspace manifest as published: versions for `workspace:*`, no dev-only fields. */
function published(manifest) {
  const out = { ...manifest };
  delete out.devDependencies;
  delete out.scripts;
  // The TypeScript sources are not shipped: drop the condition that points at them.
  if (manifest.exports)
    out.exports = JSON.parse(JSON.stringify(manifest.exports), (key, value) =>
      key === "@clearance/source" ? undefined : value,
    );
  if (manifest.dependencies) {
    out.dependencies = Object.fromEntries(
      Object.entries(manifest.dependencies).map(([dep, range]) => [
        dep,
        workspace.has(dep) ? workspace.get(dep).manifest.version : (external.get(dep) ?? range),
      ]),
    );
  }
  return out;
}

const stage = mkdtempSync(join(tmpdir(), "clearance-pack-"));
try {
  const copyBuild = (from, to) =>
    cpSync(join(from, "dist"), join(to, "dist"), {
      recursive: true,
      filter: (path) => !path.endsWith(".tsbuildinfo"),
    });

  const cli = workspace.get("@clearance/cli");
  copyBuild(cli.dir, stage);
  for (const name of included.slice(1)) {
    const { dir, manifest } = workspace.get(name);
    const target = join(stage, "node_modules", ...name.split("/"));
    mkdirSync(target, { recursive: true });
    copyBuild(dir, target);
    if (existsSync(join(dir, "bin")))
      cpSync(join(dir, "bin"), join(target, "bin"), { recursive: true });
    // the server's web console, built by Vite (packages/console) into packages/server/console
    if (manifest.files?.includes("console")) {
      if (!existsSync(join(dir, "console", "index.html")))
        throw new Error(`${name} has no console/index.html: run pnpm build first`);
      cpSync(join(dir, "console"), join(target, "console"), { recursive: true });
    }
    // npm treats every dependency of a bundled package as bundled too, and would expect
    // better-sqlite3 inside the tarball: the bundled packages name only each other, and the
    // root, where Node's resolution finds them, lists every third-party dependency.
    const inner = published(manifest);
    inner.dependencies = Object.fromEntries(
      Object.entries(inner.dependencies ?? {}).filter(([dep]) => workspace.has(dep)),
    );
    writeFileSync(join(target, "package.json"), `${JSON.stringify(inner, null, 2)}\n`);
  }

  const root = published(cli.manifest);
  root.dependencies = {
    ...Object.fromEntries(included.slice(1).map((n) => [n, workspace.get(n).manifest.version])),
    ...Object.fromEntries([...external].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
  root.bundleDependencies = included.slice(1);
  root.files = ["dist", "README.md", "LICENSE"];
  writeFileSync(join(stage, "package.json"), `${JSON.stringify(root, null, 2)}\n`);
  cpSync(join(ROOT, "LICENSE"), join(stage, "LICENSE"));
  writeFileSync(
    join(stage, "README.md"),
    `# clearance\n\nApproval rules for file-analysis results: the \`clearance\` command (check, fmt, test, eval,\ndry-run, serve, audit, gate, pull, sim). Needs Node.js 20.19 or newer.\n\n\`\`\`sh\nnpm install -g ${root.name.replace("@", "").replace("/", "-")}-${root.version}.tgz\nclearance --help\n\`\`\`\n`,
  );

  mkdirSync(outDir, { recursive: true });
  const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", outDir], {
    cwd: stage,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .pop();
  console.log(join(outDir, name));
} finally {
  rmSync(stage, { recursive: true, force: true });
}
