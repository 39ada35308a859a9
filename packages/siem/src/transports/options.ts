// What every transport's options share: objects that refuse unknown keys, one resolver with the
// key path of the configuration in front of each message, PEM material given as text or a file,
// and the loopback test that decides where plain http:// is allowed.

import { readFileSync } from "node:fs";
import {
  checkOptions,
  formatIssue,
  type Issue,
  keyPath,
  type Static,
  type TProperties,
  type TSchema,
  Type,
} from "@clearance/options";

/** An object that refuses keys it does not declare. */
export const Section = <P extends TProperties>(properties: P) =>
  Type.Object(properties, { additionalProperties: false });

/** PEM given inline (`-----BEGIN ...`) or as the path of a file holding it. */
export const PemSource = Type.String({ minLength: 1 });

/** A nullable value whose default is null, said once. */
export const Nullable = <T extends TSchema>(schema: T) =>
  Type.Union([schema, Type.Null()], { default: null });

/** Keys whose values are secrets: a message about them never shows the value. */
const SECRET_KEYS = new Set(["token", "password"]);

function describe(issue: Issue, prefix: string): string {
  const path = prefix === "" ? issue.path : [prefix, ...issue.path];
  const last = issue.path.at(-1);
  const secret =
    issue.kind !== "unknown_key" &&
    ((typeof last === "string" && SECRET_KEYS.has(last)) || issue.path.includes("headers"));
  if (!secret) return formatIssue({ ...issue, path }, "key");
  // the value is withheld: a mistyped token in an error message is a leaked token
  return formatIssue({ ...issue, path, value: undefined }, "key").replace(
    /, got `undefined`$/,
    " (value withheld)",
  );
}

/**
 * Checks `input` against a transport's declaration, fills in its defaults and freezes the result;
 * throws a TypeError naming every problem with its key path under `path` (`siem.sinks[0]`).
 */
export function resolveTransportOptions<S extends TSchema>(
  schema: S,
  input: unknown,
  path: string,
): Readonly<Static<S>> {
  const { value, issues } = checkOptions(schema, input);
  if (issues.length > 0) {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const issue of issues) {
      const key = `${issue.kind === "unknown_key" ? "+" : ""}${JSON.stringify(issue.path)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(describe(issue, path));
    }
    throw new TypeError(out.join("; "));
  }
  return value;
}

/** `siem.sinks[0]` + `tls.ca` -> `siem.sinks[0].tls.ca`. */
export function at(path: string, key: string): string {
  return path === "" ? key : keyPath([path, key]);
}

/** The PEM text of an option: inline when it starts with `-----BEGIN`, else read from the file. */
export function readPem(source: string, key: string): string {
  if (source.trimStart().startsWith("-----BEGIN")) return source;
  try {
    const text = readFileSync(source, "utf8");
    if (!text.includes("-----BEGIN")) throw new Error("no `-----BEGIN` line: not a PEM file");
    return text;
  } catch (error) {
    throw new TypeError(
      `key \`${key}\` must be PEM text or the path of a PEM file; reading \`${source}\` failed: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Whether a URL's host is this machine: `localhost`, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * A URL for an HTTP receiver: https, or http on a loopback address only (a proxy or test receiver
 * on the same machine), since the body carries events and the headers carry credentials.
 */
export function checkHttpUrl(url: string, key: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`key \`${key}\` must be an absolute URL, got \`${url}\``);
  }
  if (parsed.username !== "" || parsed.password !== "")
    throw new TypeError(
      `key \`${key}\` must not carry credentials in the URL; give them as a header or token`,
    );
  if (parsed.protocol === "https:") return parsed;
  if (parsed.protocol === "http:") {
    if (isLoopbackHost(parsed.hostname)) return parsed;
    throw new TypeError(
      `key \`${key}\` uses http:// to \`${parsed.hostname}\`, which is not a loopback address: events and credentials would cross the network unencrypted; use https:// (http:// is allowed only to localhost, 127.0.0.0/8 or ::1)`,
    );
  }
  throw new TypeError(`key \`${key}\` must be an https:// URL, got \`${parsed.protocol}\``);
}
