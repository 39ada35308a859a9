/**
 * The extension's package, as `.ci/run` builds it (`pnpm --dir editors/vscode package`): a zip
 * holding the manifest, the grammar, the language configuration and the bundled client, and no
 * node_modules (the client is inside the bundle, which requires only `vscode` and Node's own
 * modules). Without a built package the test is skipped and says so; CLEARANCE_TEST_VSIX=1 (set
 * by .ci/run) makes it mandatory.
 */
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";

const EDITOR = join(import.meta.dirname, "..");
const manifest = JSON.parse(readFileSync(join(EDITOR, "package.json"), "utf8")) as {
  name: string;
  version: string;
  main: string;
  contributes: { grammars: { path: string }[]; languages: { configuration: string }[] };
};
const VSIX = join(EDITOR, `${manifest.name}-${manifest.version}.vsix`);
const required = process.env.CLEARANCE_TEST_VSIX === "1";

/** The files of a zip archive by name, read from its central directory. */
function unzip(zip: Buffer): Map<string, Buffer> {
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error("not a zip: no end of central directory");
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error("bad central directory entry");
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const skip = nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    files.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
    at += 46 + skip;
  }
  return files;
}

describe("the install instructions", () => {
  // The README and docs/editors.md name the package file to install: bumping the version
  // without them would send readers to a file the build no longer writes.
  it.each(["README.md", "docs/editors.md"])("in %s name this version's .vsix", (page) => {
    const text = readFileSync(join(EDITOR, "..", "..", page), "utf8");
    const named = [...text.matchAll(/clearance-rules-(\d[\w.-]*)\.vsix/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(0);
    expect(new Set(named)).toEqual(new Set([manifest.version]));
  });
});

describe.skipIf(!required && !existsSync(VSIX))(
  `the .vsix (build it with \`pnpm --dir editors/vscode package\`)`,
  () => {
    const files = existsSync(VSIX) ? unzip(readFileSync(VSIX)) : new Map<string, Buffer>();
    const inExtension = (path: string) => `extension/${path.replace(/^\.\//, "")}`;

    it("holds the manifest, the grammar, the language configuration and the bundled client", () => {
      expect([...files.keys()].sort()).toEqual(
        [
          "[Content_Types].xml",
          "extension.vsixmanifest",
          "extension/LICENSE.txt",
          "extension/package.json",
          "extension/readme.md",
          inExtension(manifest.main),
          inExtension(manifest.contributes.grammars[0]!.path),
          inExtension(manifest.contributes.languages[0]!.configuration),
        ].sort(),
      );
    });

    it("carries the files as they are in the repository", () => {
      for (const path of [
        manifest.contributes.grammars[0]!.path,
        manifest.contributes.languages[0]!.configuration,
      ]) {
        expect(files.get(inExtension(path))?.toString("utf8")).toBe(
          readFileSync(join(EDITOR, path), "utf8"),
        );
      }
      const packed = JSON.parse(files.get("extension/package.json")!.toString("utf8"));
      expect(packed).toMatchObject({ name: manifest.name, version: manifest.version });
    });

    it("has a client that needs nothing but VS Code and Node", () => {
      const bundle = files.get(inExtension(manifest.main))!.toString("utf8");
      const modules = new Set(
        [...bundle.matchAll(/\brequire\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]!),
      );
      expect(modules).toContain("vscode");
      // the extension's own code is there: the server's command line starts with `lsp`
      expect(bundle).toContain('["lsp"]');
      // and the language client is in the bundle, not required from node_modules
      const foreign = [...modules].filter(
        (m) => m !== "vscode" && !builtinModules.includes(m.replace(/^node:/, "")),
      );
      expect(foreign).toEqual([]);
    });
  },
);
