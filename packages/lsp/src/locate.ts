import type { Ast, Expr, RuleFile } from "@clearance/dsl";
import { ruleExprs, walkExpr } from "./workspace.js";

/** What sits under the cursor, as far as the language server answers for it. */
export type Target =
  | { kind: "segment"; path: Ast.PathExpr; index: number }
  | { kind: "call"; call: Ast.CallExpr }
  | { kind: "rule"; rule: Ast.RuleDecl }
  | { kind: "list"; decl: Ast.ListDecl | Ast.HashlistDecl }
  | { kind: "contextField"; field: Ast.ContextField }
  | { kind: "variable"; name: Ast.Name; binder: Expr };

const inside = (span: { start: number; end: number }, offset: number) =>
  span.start <= offset && offset <= span.end;

/** The name at `offset` in `ast`: a path's segment, a call, or a declared name. */
export function locate(ast: RuleFile, offset: number): Target | undefined {
  for (const item of ast.items) {
    if (!inside(item.span, offset)) continue;
    switch (item.kind) {
      case "rule": {
        if (inside(item.name.span, offset)) return { kind: "rule", rule: item };
        let found: Target | undefined;
        for (const root of ruleExprs(item))
          walkExpr(root, (e) => {
            if (found) return;
            if (e.kind === "path") {
              const index = e.segments.findIndex((s) => inside(s.span, offset));
              if (index >= 0) found = { kind: "segment", path: e, index };
            } else if (e.kind === "call" && inside(e.callee.span, offset))
              found = { kind: "call", call: e };
            else if (
              (e.kind === "quantifier" || e.kind === "count") &&
              inside(e.variable.span, offset)
            )
              found = { kind: "variable", name: e.variable, binder: e };
          });
        return found;
      }
      case "list":
      case "hashlist":
        if (inside(item.name.span, offset)) return { kind: "list", decl: item };
        return undefined;
      case "context":
        for (const field of item.fields)
          if (inside(field.name.span, offset)) return { kind: "contextField", field };
        return undefined;
      default:
        return undefined;
    }
  }
  return undefined;
}

/** Every path expression of a file's rules, with the rule it is in. */
export function pathsOf(ast: RuleFile): { path: Ast.PathExpr; rule: Ast.RuleDecl }[] {
  const out: { path: Ast.PathExpr; rule: Ast.RuleDecl }[] = [];
  for (const item of ast.items) {
    if (item.kind !== "rule") continue;
    for (const root of ruleExprs(item))
      walkExpr(root, (e) => {
        if (e.kind === "path") out.push({ path: e, rule: item });
      });
  }
  return out;
}
