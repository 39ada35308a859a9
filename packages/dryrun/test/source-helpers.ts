import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll } from "vitest";
import type { RawRecord } from "../src/records.js";
import { openSource, openSources, type SourceOptions } from "../src/sources.js";

/** A temporary directory for this test file, removed after its tests. */
export function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "clearance-dryrun-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes files (relative path -> content) under `dir`; returns `dir`. */
export function writeTree(dir: string, files: Record<string, string | Buffer>): string {
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  return dir;
}

export async function collect(records: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const all: RawRecord[] = [];
  for await (const record of records) all.push(record);
  return all;
}

export function readSource(spec: string, options?: SourceOptions): Promise<RawRecord[]> {
  return collect(openSource(spec, options));
}

export function readSources(specs: string[], options?: SourceOptions): Promise<RawRecord[]> {
  return collect(openSources(specs, options));
}

/** A record as `[line, text]`, or `[line, text, error]` when it has an error. */
export type Brief = [number, string] | [number, string, string];

export function brief(records: RawRecord[]): Brief[] {
  return records.map((r) => (r.error === undefined ? [r.line, r.text] : [r.line, r.text, r.error]));
}
