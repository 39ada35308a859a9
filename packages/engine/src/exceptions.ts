/**
 * Exceptions and review cases as rules see them: the `exception` and `case` a decision is given
 * (docs/language.md, "Exceptions and review cases"). Their fields and types are declared once, in
 * BUILTINS of @clearance/dsl; these are the shapes a TypeScript caller passes to `decide`.
 */

/** The one exception that applies to a decision: `exception.*` in the rules. */
export interface ExceptionInput {
  id: string;
  status: "approved" | "rejected";
  kind?: "file" | "signer" | "vendor";
  /** RFC 3339 or epoch milliseconds */
  expires?: string | number | null;
  /** RFC 3339 or epoch milliseconds */
  created?: string | number;
  approvers?: string[];
  justification?: string;
  /** the review case that yielded it; absent for an exception an admin created directly */
  case?: string | null;
}

/** The review case of the decided file, when one exists: `case.*` in the rules. */
export interface CaseInput {
  id: string;
  status: "open" | "expired";
  /** RFC 3339 or epoch milliseconds */
  opened?: string | number;
  /** how many requests for the file the case has collected */
  requests?: number;
}
