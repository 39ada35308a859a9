import {
  type Ast,
  BUILTINS,
  type BuiltinName,
  type Diagnostic,
  type Field,
  FUNCTIONS,
  format,
  KEYWORDS as LANGUAGE_KEYWORDS,
  type Program,
  type Resolution,
  type RuleFile,
  type Type,
  typeName,
} from "@clearance/dsl";
import { locate, pathsOf } from "./locate.js";
import { INPUT_TYPE, ruleExprs, walkExpr } from "./workspace.js";

/** A half-open range of UTF-16 offsets in one file: what the server converts to LSP ranges. */
export interface Place {
  file: string;
  start: number;
  end: number;
}

/**
 * The language's reserved words, for completion and highlighting, less the built-in inputs
 * (`exception`, `case`), which completion offers as modules and highlighting colours as such.
 */
export const KEYWORDS: readonly string[] = Object.freeze(
  [...LANGUAGE_KEYWORDS].filter((k) => !BUILTINS.has(k as BuiltinName)),
);

/** A type as hover shows it: its name, and the allowed values of an enum. */
export function describeType(type: Type): string {
  if (type.kind === "string" && type.enum)
    return `string, one of ${type.enum.map((v) => `\`"${v}"\``).join(", ")}`;
  if (type.kind === "list" && type.element.kind === "string" && type.element.enum)
    return `list<string>, items one of ${type.element.enum.map((v) => `\`"${v}"\``).join(", ")}`;
  if (type.kind === "object")
    return `object with ${[...type.fields.keys()].map((k) => `\`${k}\``).join(", ")}`;
  return typeName(type);
}

const inputFields = (): ReadonlyMap<string, Field> =>
  INPUT_TYPE.kind === "object" ? INPUT_TYPE.fields : new Map();

/** The field `names` leads to from `fields`, going into lists' items as the checker does. */
export function fieldAt(
  fields: ReadonlyMap<string, Field>,
  names: readonly string[],
): Field | undefined {
  let field: Field | undefined;
  let current: ReadonlyMap<string, Field> | undefined = fields;
  for (const name of names) {
    field = current?.get(name);
    if (!field) return undefined;
    current = objectFields(field.type);
  }
  return field;
}

/** The fields of an object type, or of a list's object items. */
export function objectFields(type: Type): ReadonlyMap<string, Field> | undefined {
  if (type.kind === "object") return type.fields;
  if (type.kind === "list" && type.element.kind === "object") return type.element.fields;
  return undefined;
}

/** The hover text (Markdown) for what is at `offset`, and the span it is about. */
export function hover(
  ast: RuleFile,
  program: Program,
  offset: number,
): { markdown: string; span: Place } | undefined {
  const target = locate(ast, offset);
  if (!target) return undefined;
  switch (target.kind) {
    case "segment": {
      const seg = target.path.segments[target.index]!;
      const resolution = program.resolutions.get(target.path);
      const text = resolution
        ? segmentHover(resolution, target.path, target.index, program)
        : undefined;
      return text ? { markdown: text, span: seg.span } : undefined;
    }
    case "call": {
      const doc = FUNCTIONS[target.call.callee.name];
      return doc
        ? { markdown: `\`\`\`clearance\n${doc}\n\`\`\`\nfunction`, span: target.call.callee.span }
        : undefined;
    }
    case "rule":
      return { markdown: ruleHover(target.rule), span: target.rule.name.span };
    case "list": {
      const info =
        target.decl.kind === "list" ? program.lists.get(target.decl.name.name) : undefined;
      return { markdown: listHover(target.decl, info?.elementType), span: target.decl.name.span };
    }
    case "contextField":
      return {
        markdown: `\`\`\`clearance\ncontext.${target.field.name.name}: ${typeRefText(target.field.type)}\n\`\`\`\nrequest context field, sent by the caller with a query`,
        span: target.field.name.span,
      };
    case "variable":
      return {
        markdown: `\`\`\`clearance\n${target.name.name}\n\`\`\`\nan item of the list the ${target.binder.kind === "count" ? "`count`" : `\`${(target.binder as Ast.QuantifierExpr).quantifier}\``} goes over`,
        span: target.name.span,
      };
  }
}

function typeRefText(t: Ast.TypeRef): string {
  return t.element ? `${t.name}<${typeRefText(t.element)}>` : t.name;
}

function segmentHover(
  r: Resolution,
  path: Ast.PathExpr,
  index: number,
  program: Program,
): string | undefined {
  const names = path.segments.slice(0, index + 1).map((s) => s.name);
  const written = names.join(".");
  switch (r.kind) {
    case "field": {
      const field = fieldAt(inputFields(), names);
      if (!field) return undefined;
      return fieldHover(written, field, "analysis result field");
    }
    case "context": {
      if (index === 0)
        return "```clearance\ncontext\n```\nthe request context (the `context { ... }` declaration)";
      const field = fieldAt(program.context, names.slice(1));
      return field ? fieldHover(written, field, "request context field") : undefined;
    }
    case "builtin": {
      if (index === 0)
        return `\`\`\`clearance\n${r.root}\n\`\`\`\nbuilt-in: ${r.root === "exception" ? "the exception that applies to the file, when one does" : "the open review case of the file, when there is one"}`;
      const field = fieldAt(BUILTINS.get(r.root) ?? new Map(), names.slice(1));
      return field ? fieldHover(written, field, `field of the built-in \`${r.root}\``) : undefined;
    }
    case "variable": {
      if (index === 0)
        return `\`\`\`clearance\n${written}: ${describeType(variableType(r))}\n\`\`\`\nquantifier variable`;
      return `\`\`\`clearance\n${written}: ${index === path.segments.length - 1 ? describeType(r.type) : "object"}\n\`\`\`\nfield of a list item`;
    }
    case "list": {
      const info = program.lists.get(r.name);
      return info ? listHover(info.decl, info.elementType) : undefined;
    }
    case "hashlist": {
      const info = program.hashlists.get(r.name);
      return info ? listHover(info.decl, undefined) : undefined;
    }
  }
}

function variableType(r: Extract<Resolution, { kind: "variable" }>): Type {
  return r.path.length === 0 ? r.type : { kind: "object", fields: new Map() };
}

function fieldHover(written: string, field: Field, what: string): string {
  const lines = [
    `\`\`\`clearance\n${written}: ${typeName(field.type)}${field.optional ? " (optional)" : ""}\n\`\`\``,
  ];
  lines.push(what);
  if (field.description) lines.push(field.description);
  const t = field.type;
  const values =
    t.kind === "string"
      ? t.enum
      : t.kind === "list" && t.element.kind === "string"
        ? t.element.enum
        : undefined;
  if (values) lines.push(`values: ${values.map((v) => `\`"${v}"\``).join(", ")}`);
  if (field.optional)
    lines.push("absent from some inputs: test it with `exists(...)` where it matters");
  return lines.join("\n\n");
}

function listHover(decl: Ast.ListDecl | Ast.HashlistDecl, element: Type | undefined): string {
  if (decl.kind === "hashlist")
    return `\`\`\`clearance\nhashlist ${decl.name.name} from "${decl.from.path}"\n\`\`\`\nhash list: test it with \`sha256 in ${decl.name.name}\``;
  const source = decl.from ? `from "${decl.from.path}"` : `${decl.items?.items.length ?? 0} items`;
  return `\`\`\`clearance\nlist ${decl.name.name}: list<${element ? typeName(element) : "string"}>\n\`\`\`\nlist, ${source}`;
}

function ruleHover(rule: Ast.RuleDecl): string {
  const mods = [
    rule.priority ? `priority ${rule.priority.value}` : "",
    rule.monitor ? "monitor" : "",
    rule.expires ? `expires ${rule.expires.raw}` : "",
    rule.overrides ? `overrides ${rule.overrides.action}` : "",
    rule.forbidApproval ? "forbid-approval" : "",
  ].filter((m) => m !== "");
  const outcome = rule.outcome
    ? `${rule.outcome.action} ${rule.outcome.reason.raw}`
    : "(no outcome)";
  return `\`\`\`clearance\nrule ${rule.name.name}${mods.length ? ` ${mods.join(" ")}` : ""}\n\`\`\`\n${outcome}`;
}

// ---------------------------------------------------------------- names across the directory

/** What a name refers to, for definitions, references and rename. */
export type Symbol =
  | { kind: "list"; name: string }
  | { kind: "rule"; name: string }
  | { kind: "context"; name: string };

/** The directory-wide symbol at `offset` of `ast`, resolved with `program`. */
export function symbolAt(ast: RuleFile, program: Program, offset: number): Symbol | undefined {
  const target = locate(ast, offset);
  if (!target) return undefined;
  switch (target.kind) {
    case "rule":
      return { kind: "rule", name: target.rule.name.name };
    case "list":
      return { kind: "list", name: target.decl.name.name };
    case "contextField":
      return { kind: "context", name: target.field.name.name };
    case "segment": {
      const r = program.resolutions.get(target.path);
      if (!r) return undefined;
      if ((r.kind === "list" || r.kind === "hashlist") && target.index === 0)
        return { kind: "list", name: r.name };
      if (r.kind === "context" && target.index === 1)
        return { kind: "context", name: target.path.segments[1]!.name };
      return undefined;
    }
    default:
      return undefined;
  }
}

/** Where `symbol` is declared, over every file of the directory. */
export function declarations(asts: readonly RuleFile[], symbol: Symbol): Place[] {
  const out: Place[] = [];
  for (const ast of asts)
    for (const item of ast.items) {
      if (symbol.kind === "rule" && item.kind === "rule" && item.name.name === symbol.name)
        out.push(item.name.span);
      if (
        symbol.kind === "list" &&
        (item.kind === "list" || item.kind === "hashlist") &&
        item.name.name === symbol.name
      )
        out.push(item.name.span);
      if (symbol.kind === "context" && item.kind === "context")
        for (const f of item.fields) if (f.name.name === symbol.name) out.push(f.name.span);
    }
  return out;
}

/** Where `symbol` is used (declarations left out), over every file of the directory. */
export function uses(asts: readonly RuleFile[], program: Program, symbol: Symbol): Place[] {
  if (symbol.kind === "rule") return []; // rules are named by tests and decisions, never by other rules
  const out: Place[] = [];
  for (const ast of asts)
    for (const { path } of pathsOf(ast)) {
      const r = program.resolutions.get(path);
      if (!r) continue;
      if (
        symbol.kind === "list" &&
        (r.kind === "list" || r.kind === "hashlist") &&
        r.name === symbol.name
      )
        out.push(path.segments[0]!.span);
      if (
        symbol.kind === "context" &&
        r.kind === "context" &&
        path.segments[1]?.name === symbol.name
      )
        out.push(path.segments[1].span);
    }
  return out;
}

export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---------------------------------------------------------------- completion

export type CompletionKind =
  | "field"
  | "enum"
  | "list"
  | "function"
  | "keyword"
  | "snippet"
  | "variable"
  | "module";

export interface Completion {
  label: string;
  kind: CompletionKind;
  detail?: string;
  documentation?: string;
  /** a snippet in the LSP's snippet syntax, for `snippet` */
  snippet?: string;
}

const RULE_SNIPPET =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an LSP snippet's placeholders, not a template
  'rule ${1:name} {\n  when ${2:condition}\n  ${3|deny,review,allow|} "${4:reason}"\n}';

/**
 * What may be typed at `offset` of `text`: fields after a path and a dot, enum values after a
 * comparison with an enum field, else every name a condition may start with and the keywords.
 * Read from the text before the cursor, since the file is mostly broken while it is typed.
 */
export function complete(text: string, offset: number, program: Program): Completion[] {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  const variables = quantifierVariables(
    text.slice(Math.max(0, text.lastIndexOf("rule ", offset)), offset),
    program,
  );
  // `a.b.` : the fields of `a.b`
  const dotted = /([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)\.(\w*)$/.exec(before);
  if (dotted) {
    const fields = fieldsOfPath(dotted[1]!.split("."), program, variables);
    return [...(fields ?? new Map()).entries()].map(([name, f]) => fieldCompletion(name, f));
  }
  // `path == "` or `path in ["a", "` : the values of an enum
  const compared =
    /([A-Za-z_][\w.]*)\s*(?:==|!=|not in|in)\s*\[?(?:\s*"[^"]*"\s*,)*\s*"?(\w*)$/.exec(before);
  if (compared) {
    const field = fieldOfPath(compared[1]!.split("."), program, variables);
    const t = field?.type;
    const values =
      t?.kind === "string"
        ? t.enum
        : t?.kind === "list" && t.element.kind === "string"
          ? t.element.enum
          : undefined;
    if (values) {
      const quoted = /"\w*$/.test(before);
      return values.map((v) => ({
        label: quoted ? v : `"${v}"`,
        kind: "enum" as const,
        detail: compared[1],
      }));
    }
  }
  const out: Completion[] = [];
  for (const [name, f] of inputFields()) out.push(fieldCompletion(name, f));
  out.push({ label: "context", kind: "module", detail: "the request context" });
  for (const root of BUILTINS.keys())
    out.push({ label: root, kind: "module", detail: `built-in ${root}` });
  for (const [name, v] of variables)
    out.push({ label: name, kind: "variable", detail: describeType(v) });
  for (const [name, info] of program.lists)
    out.push({ label: name, kind: "list", detail: `list<${typeName(info.elementType)}>` });
  for (const name of program.hashlists.keys())
    out.push({ label: name, kind: "list", detail: "hashlist" });
  for (const [name, doc] of Object.entries(FUNCTIONS))
    out.push({ label: name, kind: "function", detail: doc });
  for (const k of KEYWORDS) out.push({ label: k, kind: "keyword" });
  // Outside a rule: a new rule. Rules' names of the directory are not offered: none is referenced.
  if (!insideBraces(text, offset))
    out.push({ label: "rule", kind: "snippet", detail: "a new rule", snippet: RULE_SNIPPET });
  return out;
}

function insideBraces(text: string, offset: number): boolean {
  const open = text.lastIndexOf("{", offset - 1);
  const close = text.lastIndexOf("}", offset - 1);
  return open > close && /\brule\b[^{]*$/.test(text.slice(Math.max(0, open - 200), open));
}

function fieldCompletion(name: string, f: Field): Completion {
  const c: Completion = {
    label: name,
    kind: "field",
    detail: `${typeName(f.type)}${f.optional ? " (optional)" : ""}`,
  };
  if (f.description) c.documentation = f.description;
  return c;
}

/** `any x in path` and `count(x in path` before the cursor: x's type, the items of path. */
function quantifierVariables(ruleText: string, program: Program): Map<string, Type> {
  const out = new Map<string, Type>();
  for (const m of ruleText.matchAll(
    /\b(?:any|all|count\s*\()\s*([A-Za-z_]\w*)\s+in\s+([A-Za-z_][\w.]*)/g,
  )) {
    const field = fieldOfPath(m[2]!.split("."), program, out);
    if (field?.type.kind === "list") out.set(m[1]!, field.type.element);
  }
  return out;
}

function fieldOfPath(
  names: string[],
  program: Program,
  variables: ReadonlyMap<string, Type>,
): Field | undefined {
  const [head, ...rest] = names;
  if (head === undefined) return undefined;
  if (variables.has(head)) {
    const root: Field = { type: variables.get(head)!, optional: false };
    return rest.length === 0 ? root : fieldAt(objectFields(root.type) ?? new Map(), rest);
  }
  if (head === "context") return fieldAt(program.context, rest);
  const builtin = BUILTINS.get(head as "exception" | "case");
  if (builtin) return fieldAt(builtin, rest);
  return fieldAt(inputFields(), names);
}

function fieldsOfPath(
  names: string[],
  program: Program,
  variables: ReadonlyMap<string, Type>,
): ReadonlyMap<string, Field> | undefined {
  if (names.length === 1 && names[0] === "context") return program.context;
  const builtin = names.length === 1 ? BUILTINS.get(names[0] as "exception" | "case") : undefined;
  if (builtin) return builtin;
  const field = fieldOfPath(names, program, variables);
  return field ? objectFields(field.type) : undefined;
}

// ---------------------------------------------------------------- formatting and quick fixes

/** The whole file in the canonical layout, or undefined when it has errors or is formatted. */
export function formatted(path: string, text: string): string | undefined {
  const result = format({ path, text });
  return result.text !== undefined && result.text !== text ? result.text : undefined;
}

export interface Fix {
  title: string;
  span: Place;
  newText: string;
}

/**
 * The edit a diagnostic suggests, derived from its code, span and help: the checker and parser
 * write suggestions as help text (`did you mean \`x\`?`, `compare with \`==\``), and the span is the
 * text to replace.
 */
export function fixFor(d: Diagnostic, text: string): Fix | undefined {
  const written = text.slice(d.span.start, d.span.end);
  const help = d.help ?? "";
  const meant = /did you mean `([^`]+)`\?/.exec(help)?.[1];
  if (meant !== undefined) {
    // an enum value's span is its string literal, quotes included
    const newText =
      d.code === "unknown_enum_value" && written.startsWith('"') ? `"${meant}"` : meant;
    if (written === newText || written.length === 0) return undefined;
    // a misspelt segment of a path: the span may cover the whole path
    if (written.includes(".") && !meant.includes(".")) {
      const dot = written.lastIndexOf(".");
      return {
        title: `Change to \`${meant}\``,
        span: { ...d.span, start: d.span.start + dot + 1 },
        newText,
      };
    }
    return { title: `Change to \`${meant}\``, span: d.span, newText };
  }
  if (help.startsWith("compare with `==`") && written === "=")
    return { title: "Change `=` to `==`", span: d.span, newText: "==" };
  if (d.code === "unexpected_character") {
    // the lexer's span is `&&` or `||` whole, or one character of it
    const pair = written.length === 1 && text[d.span.end] === written ? written + written : written;
    const end = d.span.start + pair.length;
    if (pair === "&&")
      return { title: "Change `&&` to `and`", span: { ...d.span, end }, newText: "and" };
    if (pair === "||")
      return { title: "Change `||` to `or`", span: { ...d.span, end }, newText: "or" };
    if (written === "'" || written === "\u201c" || written === "\u201d") {
      // the string up to its closing quote on the same line, in straight double quotes
      const rest = text.slice(d.span.end, text.indexOf("\n", d.span.end) >>> 0);
      const close = /['\u201c\u201d]/.exec(rest);
      if (!close) return undefined;
      const inner = rest.slice(0, close.index);
      if (inner.includes('"') || inner.includes("\\")) return undefined;
      return {
        title: "Use double quotes",
        span: { ...d.span, end: d.span.end + close.index + 1 },
        newText: `"${inner}"`,
      };
    }
  }
  if (d.code === "type_mismatch" && /without quotes/.test(help)) {
    // `trustScore >= "70"`, `firstSeen < "2026-01-01"`: the quoted number or date, unquoted
    const m = /"(-?\d+(?:\.\d+)?|\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z)?)"/.exec(written);
    if (!m) return undefined;
    const start = d.span.start + m.index;
    return {
      title: `Remove the quotes around \`${m[1]}\``,
      span: { file: d.span.file, start, end: start + m[0].length },
      newText: m[1]!,
    };
  }
  return undefined;
}

// ---------------------------------------------------------------- outline and highlighting

export interface OutlineEntry {
  name: string;
  kind: "rule" | "list" | "hashlist" | "context" | "setting" | "field";
  detail?: string;
  span: Place;
  selection: Place;
  children?: OutlineEntry[];
}

/** The rules, lists and declarations of one file, in order. */
export function outline(ast: RuleFile): OutlineEntry[] {
  const out: OutlineEntry[] = [];
  for (const item of ast.items) {
    switch (item.kind) {
      case "rule":
        out.push({
          name: item.name.name,
          kind: "rule",
          ...(item.outcome ? { detail: item.outcome.action } : {}),
          span: item.span,
          selection: item.name.span,
        });
        break;
      case "list":
      case "hashlist":
        out.push({
          name: item.name.name,
          kind: item.kind,
          span: item.span,
          selection: item.name.span,
        });
        break;
      case "context":
        out.push({
          name: "context",
          kind: "context",
          span: item.span,
          selection: item.span,
          children: item.fields.map((f) => ({
            name: f.name.name,
            kind: "field" as const,
            detail: typeRefText(f.type),
            span: f.span,
            selection: f.name.span,
          })),
        });
        break;
      default:
        out.push({ name: item.kind, kind: "setting", span: item.span, selection: item.span });
    }
  }
  return out;
}

export const TOKEN_TYPES = [
  "keyword",
  "comment",
  "string",
  "number",
  "regexp",
  "property",
  "variable",
  "function",
  "class",
  "enumMember",
  "namespace",
] as const;
export const TOKEN_MODIFIERS = ["declaration", "readonly", "defaultLibrary"] as const;

export interface Token {
  start: number;
  end: number;
  type: (typeof TOKEN_TYPES)[number];
  modifiers?: (typeof TOKEN_MODIFIERS)[number][];
}

const KEYWORD_SET = new Set(KEYWORDS);

/**
 * The semantic tokens of a file, sorted and not overlapping: what the AST and the checker know
 * (fields, context, lists, variables, functions, rule names, literals, regexes, comments), and
 * keywords found in the text between them.
 */
export function tokens(ast: RuleFile, text: string, program: Program): Token[] {
  const out: Token[] = [];
  for (const c of ast.comments) out.push({ start: c.span.start, end: c.span.end, type: "comment" });
  for (const item of ast.items) {
    switch (item.kind) {
      case "rule":
        out.push({ ...span(item.name.span), type: "class", modifiers: ["declaration"] });
        for (const root of ruleExprs(item)) walkExpr(root, (e) => exprTokens(e, program, out));
        if (item.outcome) templateTokens(item.outcome.reason, out);
        break;
      case "list":
      case "hashlist":
        out.push({
          ...span(item.name.span),
          type: "variable",
          modifiers: ["declaration", "readonly"],
        });
        if (item.from) out.push({ ...span(item.from.span), type: "string" });
        if (item.kind === "list" && item.items)
          for (const i of item.items.items) walkExpr(i, (e) => exprTokens(e, program, out));
        break;
      case "context":
        for (const f of item.fields)
          out.push({ ...span(f.name.span), type: "property", modifiers: ["declaration"] });
        break;
      case "default":
        templateTokens(item.reason, out);
        break;
      default:
        break;
    }
  }
  out.sort((a, b) => a.start - b.start);
  // keywords: words of the keyword list in the gaps the tokens above leave
  const withKeywords: Token[] = [];
  let at = 0;
  const scan = (from: number, to: number) => {
    for (const m of text.slice(from, to).matchAll(/[A-Za-z][\w-]*/g)) {
      const word = m[0];
      if (KEYWORD_SET.has(word))
        withKeywords.push({
          start: from + m.index,
          end: from + m.index + word.length,
          type: "keyword",
        });
    }
  };
  for (const t of out) {
    if (t.start < at) continue; // overlapping (a template's hole inside its string): keep the first
    scan(at, t.start);
    withKeywords.push(t);
    at = t.end;
  }
  scan(at, text.length);
  return withKeywords.filter((t) => t.end > t.start && !text.slice(t.start, t.end).includes("\n"));
}

function span(s: Place): { start: number; end: number } {
  return { start: s.start, end: s.end };
}

function exprTokens(e: Ast.Expr, program: Program, out: Token[]): void {
  switch (e.kind) {
    case "literal":
      out.push({
        ...span(e.span),
        type: e.type === "string" ? "string" : e.type === "bool" ? "keyword" : "number",
      });
      break;
    case "match":
      out.push({ ...span(e.regex.span), type: "regexp" });
      break;
    case "call":
      out.push({ ...span(e.callee.span), type: "function", modifiers: ["defaultLibrary"] });
      break;
    case "quantifier":
    case "count":
      out.push({ ...span(e.variable.span), type: "variable", modifiers: ["declaration"] });
      break;
    case "path": {
      const r = program.resolutions.get(e);
      e.segments.forEach((s, i) => {
        let type: Token["type"] = "property";
        const modifiers: Token["modifiers"] = [];
        if (i === 0 && r) {
          if (r.kind === "list" || r.kind === "hashlist") {
            type = "variable";
            modifiers.push("readonly");
          } else if (r.kind === "variable") type = "variable";
          else if (r.kind === "context" || r.kind === "builtin") type = "namespace";
        }
        out.push({ ...span(s.span), type, ...(modifiers.length ? { modifiers } : {}) });
      });
      break;
    }
    default:
      break;
  }
}

/** A reason's text as string pieces around its holes (the holes' expressions are walked apart). */
function templateTokens(t: Ast.Template, out: Token[]): void {
  const holes = t.parts.filter((p): p is Ast.Expr => typeof p !== "string").map((h) => h.span);
  let at = t.span.start;
  for (const h of holes) {
    // the hole's braces belong to the string
    if (h.start - 1 > at) out.push({ start: at, end: h.start - 1, type: "string" });
    at = h.end + 1;
  }
  if (t.span.end > at) out.push({ start: at, end: t.span.end, type: "string" });
}

// ---------------------------------------------------------------- rule names in test files

/**
 * Where the rule tests of the directory (`*.test.yaml`, as `clearance test` finds them) name the
 * rule `name`: `rule: name`, and the items of `monitored` and `approvalForbiddenBy` (docs/testing.md),
 * inline (`[a, b]`, also inside a `{ ... }` map) or one `- a` a line. A textual scan: rule names
 * are plain words, and the scan needs no YAML parser in the server.
 */
export function testFileUses(file: string, text: string, name: string): Place[] {
  const out: Place[] = [];
  const at = (start: number) => out.push({ file, start, end: start + name.length });
  const word = new RegExp(`(?<![\\w-])${name}(?![\\w-])`, "g");
  for (const m of text.matchAll(new RegExp(`\\brule\\s*:\\s*["']?${name}(?![\\w-])`, "g")))
    at(m.index + m[0].length - name.length);
  for (const m of text.matchAll(/\b(?:monitored|approvalForbiddenBy)\s*:\s*\[([^\]]*)\]/g)) {
    const from = m.index + m[0].indexOf("[") + 1;
    for (const w of m[1]!.matchAll(word)) at(from + w.index);
  }
  // block lists: `monitored:` alone on its line, then `- name` lines indented deeper
  let offset = 0;
  let keyIndent: number | undefined;
  for (const line of text.split("\n")) {
    const key = /^(\s*)(?:monitored|approvalForbiddenBy)\s*:\s*(?:#.*)?$/.exec(line);
    if (key) keyIndent = key[1]!.length;
    else if (keyIndent !== undefined) {
      const item = /^(\s*)-\s*["']?([\w-]+)/.exec(line);
      if (item && item[1]!.length >= keyIndent) {
        if (item[2] === name) at(offset + line.indexOf(name, item[1]!.length));
      } else if (line.trim() !== "") keyIndent = undefined;
    }
    offset += line.length + 1;
  }
  return out.sort((a, b) => a.start - b.start);
}
