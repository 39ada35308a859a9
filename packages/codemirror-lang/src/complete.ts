import {
  autocompletion,
  type Completion,
  type CompletionContext,
  type CompletionResult,
  type CompletionSource,
  snippetCompletion,
} from "@codemirror/autocomplete";
import type { Extension } from "@codemirror/state";
import { KEYWORDS } from "./keywords.js";
import { declaredContext, type RuleSchema, type SchemaField } from "./schema.js";

// Completion from the text before the cursor and the caller's schema: the language server's
// (packages/lsp) works on the parsed rule directory; an editor in a page has only its text and
// what its server serves, so this reads the line as written, which is what completion needs.

/** A rule as the formatter writes one: name, condition, action and reason, each a tab stop. */
const RULE_SNIPPET = snippetCompletion(
  // biome-ignore lint/suspicious/noTemplateCurlyInString: `${...}` are CodeMirror's tab stops
  'rule ${name} {\n  when ${condition}\n  ${deny} "${reason}"\n}',
  { label: "rule", type: "keyword", detail: "snippet", info: "a rule: when, action and reason" },
);

// `rule` is offered as the snippet, which writes the rest of the rule too
const KEYWORD_OPTIONS: Completion[] = KEYWORDS.filter((k) => k !== "rule").map((k) => ({
  label: k,
  type: "keyword",
}));

/** `list name = [...]` and `hashlist name from "..."`: the names `in` can test against. */
function listNames(text: string): string[] {
  return [...new Set([...text.matchAll(/\b(?:hash)?list\s+([A-Za-z_]\w*)/g)].map((m) => m[1]!))];
}

function fieldOption(f: SchemaField): Completion {
  const option: Completion = { label: f.name, type: "property", detail: f.type };
  if (f.doc) option.info = f.doc;
  return option;
}

/** The field `path` names, going into objects and into lists' object items. */
function fieldAt(fields: readonly SchemaField[], path: readonly string[]): SchemaField | undefined {
  let field: SchemaField | undefined;
  let current: readonly SchemaField[] | undefined = fields;
  for (const name of path) {
    field = current?.find((f) => f.name === name);
    if (!field) return undefined;
    current = field.fields;
  }
  return field;
}

/** Whether `before` (a line up to the cursor) ends in a comment or inside a string. */
function inCommentOrString(before: string): boolean {
  let inString = false;
  for (let i = 0; i < before.length; i++) {
    const c = before[i];
    if (inString && c === "\\") i++;
    else if (c === '"') inString = !inString;
    else if (!inString && c === "#") return true;
  }
  return inString;
}

/** The completion source for `schema`; exported apart from the extension for tests. */
export function clearanceCompletionSource(schema: RuleSchema): CompletionSource {
  return (cx: CompletionContext): CompletionResult | null => {
    const line = cx.state.doc.lineAt(cx.pos);
    const before = line.text.slice(0, cx.pos - line.from);
    const text = cx.state.doc.toString();
    const context = [...(schema.context ?? []), ...declaredContext([text])].filter(
      (f, i, all) => all.findIndex((g) => g.name === f.name) === i,
    );
    const fieldsOf = (path: string[]): readonly SchemaField[] | undefined =>
      path[0] === "context"
        ? path.length === 1
          ? context
          : fieldAt(context, path.slice(1))?.fields
        : fieldAt(schema.fields, path)?.fields;

    // an enum's values after `field ==`, `field !=` or `field in [`, quoted or being quoted
    const compared =
      /([A-Za-z_][\w.]*)\s*(?:==|!=)\s*("[\w.-]*)?$/.exec(before) ??
      /([A-Za-z_][\w.]*)\s+in\s*\[(?:\s*"[^"]*"\s*,)*\s*("[\w.-]*)?$/.exec(before);
    if (compared) {
      const path = compared[1]!.split(".");
      const field =
        path[0] === "context" ? fieldAt(context, path.slice(1)) : fieldAt(schema.fields, path);
      if (field?.enum) {
        const typed = compared[2] ?? "";
        return {
          from: cx.pos - typed.length,
          options: field.enum.map((v) => ({ label: `"${v}"`, type: "enum", detail: field.name })),
          validFor: /^"?[\w.-]*$/,
        };
      }
    }
    if (inCommentOrString(before)) return null;

    // a nested field after `a.b.`
    const dotted = /([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\.(\w*)$/.exec(before);
    if (dotted) {
      const fields = fieldsOf(dotted[1]!.split("."));
      if (!fields) return null;
      return {
        from: cx.pos - dotted[2]!.length,
        options: fields.map(fieldOption),
        validFor: /^\w*$/,
      };
    }

    const word = cx.matchBefore(/[A-Za-z_][\w-]*/);
    if (!word && !cx.explicit) return null;
    const from = word ? word.from : cx.pos;
    // after `in` a list is wanted (and only there: a list is no value to compare); elsewhere
    // everything a condition or a declaration starts with
    if (/\bin\s+[\w-]*$/.test(before)) {
      return {
        from,
        options: listNames(text).map((n) => ({ label: n, type: "variable", detail: "list" })),
        validFor: /^\w*$/,
      };
    }
    const options: Completion[] = [
      RULE_SNIPPET,
      ...KEYWORD_OPTIONS,
      ...schema.fields.map(fieldOption),
      ...schema.functions.map((f) => ({
        label: f.name,
        type: "function",
        detail: f.signature.replace(/^[^(]*/, "").replace(/:.*$/, ""),
        info: f.signature,
        apply: `${f.name}(`,
      })),
    ];
    if (context.length > 0)
      options.push({ label: "context", type: "namespace", detail: "request" });
    return { from, options, validFor: /^[\w-]*$/ };
  };
}

/** Completion of the rule language from `schema`, as an editor extension. */
export function clearanceCompletion(schema: RuleSchema): Extension {
  return autocompletion({ override: [clearanceCompletionSource(schema)] });
}
