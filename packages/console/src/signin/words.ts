import type { Scope } from "../api.js";

/** Scopes as an analyst reads them; the scope's own name is shown beside (docs/http-api.md). */
export const SCOPE_WORDS: Readonly<Record<Scope, string>> = Object.freeze({
  decide: "Ask for decisions",
  "audit:read": "Read the audit log",
  review: "Review cases",
  exceptions: "Manage exceptions",
  admin: "Administer",
});

/** `/audit?x=y` from `#/audit?x=y`, when the server takes it as a place to return to. */
export function returnPath(text: string | null): string | undefined {
  if (text === null) return undefined;
  const path = text.startsWith("/") ? text : `/${text}`;
  return /^\/(?!\/)[A-Za-z0-9/_.~%?=&:+-]{0,500}$/.test(path) && !path.startsWith("/sign-in")
    ? path
    : undefined;
}
