import { createApiKey, SCOPES, type Scope } from "@clearance/server";
import { CliError, type Output } from "../output.js";

export interface KeysCreateOptions {
  id: string;
  scopes: string[];
}

/** Prints a new key once, and the configuration line holding only its hash. */
export function keysCreateCommand(output: Output, options: KeysCreateOptions): number {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.id))
    throw new CliError(`key id \`${options.id}\` must be 1 to 64 letters, digits or \`._-\``);
  const scopes = options.scopes.flatMap((s) => s.split(",")).filter((s) => s !== "");
  for (const s of scopes)
    if (!(SCOPES as readonly string[]).includes(s))
      throw new CliError(
        `unknown scope \`${s}\``,
        `scopes are ${SCOPES.map((x) => `\`${x}\``).join(", ")}`,
      );
  const { secret, sha256 } = createApiKey();
  const list = [...new Set(scopes as Scope[])];
  output.err("The key (shown once; give it to the client, store it as a secret):");
  output.out(secret);
  output.err("\nAdd this under `auth.keys` in clearance.yaml (it holds only the key's hash):");
  output.err(`  - { id: ${options.id}, scopes: [${list.join(", ")}], sha256: ${sha256} }`);
  return 0;
}
