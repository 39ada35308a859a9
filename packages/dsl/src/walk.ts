import type { Expr } from "./ast.js";

/**
 * Whether `test` holds for any expression in `roots` or below them. Where `test` holds, the walk
 * does not look below that expression. A work list, not recursion: a condition may be a chain of
 * thousands of operands.
 */
export function someExpr(roots: readonly Expr[], test: (e: Expr) => boolean): boolean {
  const pending = [...roots];
  for (let e = pending.pop(); e !== undefined; e = pending.pop()) {
    if (test(e)) return true;
    switch (e.kind) {
      case "binary":
        pending.push(e.left, e.right);
        break;
      case "unary":
      case "match":
        pending.push(e.operand);
        break;
      case "list":
        for (const item of e.items) pending.push(item);
        break;
      case "call":
        for (const arg of e.args) pending.push(arg);
        break;
      case "quantifier":
      case "count":
        pending.push(e.collection, e.body);
        break;
      case "literal":
      case "path":
      case "error":
        break;
    }
  }
  return false;
}
