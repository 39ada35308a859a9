// Allow and block lists of SHA-256 for agents that are not Santa (docs/endpoints.md#feeds): a
// group's standing BINARY rules as plain text or JSON, with an ETag for cheap polling and a
// detached Ed25519 signature, so an agent can check a list came from this server. A list is made
// once per change of the group's rules and kept until the next.

import { createPrivateKey, createPublicKey, type KeyObject, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import type { SantaStore } from "./audit/santa-store.js";
import { ConfigError } from "./config.js";

export const FEED_LISTS = ["allow", "block"] as const;
export type FeedList = (typeof FEED_LISTS)[number];
export const FEED_FORMATS = ["txt", "json"] as const;
export type FeedFormat = (typeof FEED_FORMATS)[number];

export interface Feed {
  body: Buffer;
  contentType: string;
  /** a strong ETag: the list's group, kind, format and the group's rule sequence number */
  etag: string;
  /** base64 Ed25519 signature of `body`, when a signing key is configured */
  signature: string | null;
}

/** Reads the configured Ed25519 private key (PEM, PKCS#8), or says what is wrong with it. */
export function loadFeedKey(path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(path));
  } catch (error) {
    throw new ConfigError([
      `\`santa.feedSigningKey\`: \`${path}\` is not a readable PEM private key: ${(error as Error).message}`,
    ]);
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new ConfigError([
      `\`santa.feedSigningKey\`: \`${path}\` is a ${key.asymmetricKeyType} key; feeds are signed with Ed25519 (\`openssl genpkey -algorithm ed25519\`)`,
    ]);
  return key;
}

export class SantaFeeds {
  private readonly made = new Map<string, { revision: number; feed: Feed }>();
  private readonly publicPem: string | null;

  constructor(
    private readonly store: () => SantaStore,
    private readonly key: KeyObject | null,
  ) {
    this.publicPem = key
      ? (createPublicKey(key).export({ type: "spki", format: "pem" }) as string)
      : null;
  }

  /** The PEM public key that checks the signatures, or null when feeds are not signed. */
  get publicKey(): string | null {
    return this.publicPem;
  }

  async feed(group: string, list: FeedList, format: FeedFormat): Promise<Feed> {
    const revision = await this.store().ruleHead(group);
    const id = `${group}\n${list}\n${format}`;
    const kept = this.made.get(id);
    if (kept && kept.revision === revision) return kept.feed;
    const hashes = await this.store().identifiers(
      group,
      "BINARY",
      list === "allow" ? "ALLOWLIST" : "BLOCKLIST",
    );
    const body = Buffer.from(
      format === "txt"
        ? hashes.map((h) => `${h}\n`).join("")
        : `${JSON.stringify({ group, list, revision, sha256: hashes })}\n`,
    );
    const feed: Feed = {
      body,
      contentType: format === "txt" ? "text/plain; charset=utf-8" : "application/json",
      etag: `"${list}-${format}-${revision}"`,
      signature: this.key ? sign(null, body, this.key).toString("base64") : null,
    };
    this.made.set(id, { revision, feed });
    return feed;
  }
}
