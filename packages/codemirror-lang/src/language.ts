import {
  HighlightStyle,
  LanguageSupport,
  StreamLanguage,
  type StringStream,
  syntaxHighlighting,
} from "@codemirror/language";
import type { Extension } from "@codemirror/state";
import { tags } from "@lezer/highlight";
import { KEYWORDS as ALL_KEYWORDS } from "./keywords.js";

// The rule language (docs/language.md) for CodeMirror, as a stream tokenizer: keywords, actions,
// strings (with the `{...}` holes of reasons), numbers, durations, timestamps, comments and the
// regular expressions after `matches`. It colours; the checker on the server says what is wrong.
// Kept apart from any editor setup so that a read-only view can colour rule files with it too.

/** The language's reserved words, less the actions and the literals, which are coloured apart. */
const KEYWORDS = new Set(
  ALL_KEYWORDS.filter((k) => !["allow", "deny", "review", "true", "false"].includes(k)),
);
const ACTIONS = new Set(["allow", "deny", "review"]);
const ATOMS = new Set(["true", "false", "null"]);

interface State {
  /** the last word was `matches`: a `/` starts a regular expression */
  afterMatches: boolean;
  /** the last word was `rule`, `list` or `hashlist`: the next word is the name declared */
  declaring: boolean;
  /** in a string (strings end on their line) */
  inString: boolean;
  /** in a `{...}` hole of a string: an expression, coloured as code */
  inHole: boolean;
  /** brackets (`{`, `[`, `(`) open at the end of the last line: the indentation of the next */
  depth: number;
}

const OPENING = new Set(["{", "[", "("]);
const CLOSING = new Set(["}", "]", ")"]);

/** The rest of a string, up to its closing quote, a `{` hole or the end of the line. */
function stringBody(stream: StringStream, state: State): string {
  while (!stream.eol()) {
    const c = stream.next();
    if (c === "\\") stream.next();
    else if (c === '"') {
      state.inString = false;
      break;
    } else if (c === "{") {
      state.inHole = true;
      break;
    }
  }
  return "string";
}

export const clearanceLanguage = StreamLanguage.define<State>({
  name: "clearance",
  startState: () => ({
    afterMatches: false,
    declaring: false,
    inString: false,
    inHole: false,
    depth: 0,
  }),
  token(stream, state) {
    if (stream.sol() && state.inString) {
      // an unterminated string ends with its line, as the lexer reads it
      state.inString = false;
      state.inHole = false;
    }
    if (state.inString && !state.inHole) return stringBody(stream, state);
    if (stream.eatSpace()) return null;
    if (state.inHole && stream.peek() === "}") {
      stream.next();
      state.inHole = false;
      return "string";
    }
    if (stream.match(/^#.*/)) return "comment";
    if (!state.inHole && stream.peek() === '"') {
      stream.next();
      state.inString = true;
      return stringBody(stream, state);
    }
    if (
      state.afterMatches &&
      stream.match(/^\/(?:[^/\\\n[]|\\.|\[(?:[^\]\\\n]|\\.)*\])+\/[A-Za-z]*/)
    ) {
      state.afterMatches = false;
      return "regexp";
    }
    state.afterMatches = false;
    if (stream.match(/^\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?/)) return "number";
    if (stream.match(/^(?:\d+(?:ms|[smhdw]))+(?![A-Za-z0-9_])/)) return "number";
    if (stream.match(/^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/)) return "number";
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*(?:-[a-z]+)*/) as RegExpMatchArray | null;
    if (word) {
      const w = word[0];
      // a word after `.` is a field (`x.count`, `exception.case`), never a keyword, as the DSL
      // reads it
      if (stream.string[stream.start - 1] === ".") return "variable";
      if (state.declaring) {
        state.declaring = false;
        return "def";
      }
      if (KEYWORDS.has(w)) {
        state.afterMatches = w === "matches";
        state.declaring = w === "rule" || w === "list" || w === "hashlist";
        return "keyword";
      }
      if (ACTIONS.has(w)) return "atom";
      if (ATOMS.has(w)) return "bool";
      return "variable";
    }
    const c = stream.next();
    if (c !== undefined && OPENING.has(c)) state.depth++;
    else if (c !== undefined && CLOSING.has(c)) state.depth = Math.max(0, state.depth - 1);
    return "operator";
  },
  // a rule's body, a list's items and a context declaration are indented one unit a level; a
  // line that starts by closing one goes back out, as the formatter writes them
  indent(state, textAfter, cx) {
    const closes = /^\s*[}\])]/.test(textAfter) ? 1 : 0;
    return Math.max(0, state.depth - closes) * cx.unit;
  },
  languageData: {
    commentTokens: { line: "#" },
    closeBrackets: { brackets: ["(", "[", "{", '"'] },
    // a typed `}` or `]` at the start of a line puts it back at its block's indentation
    indentOnInput: /^\s*[}\]]$/,
  },
});

/**
 * Colours with a contrast of at least 4.5:1 on white (WCAG AA): the words are told apart by
 * weight and style too, never by colour alone.
 */
export const clearanceHighlight = HighlightStyle.define([
  { tag: tags.keyword, color: "#5b2a86", fontWeight: "600" },
  { tag: tags.atom, color: "#8a1c1c", fontWeight: "700" },
  { tag: tags.bool, color: "#1d5a8a" },
  { tag: tags.string, color: "#1e6b2e" },
  { tag: tags.number, color: "#1d5a8a" },
  { tag: tags.regexp, color: "#8a4b00" },
  { tag: tags.comment, color: "#5d6470", fontStyle: "italic" },
  { tag: tags.definition(tags.variableName), color: "#111827", fontWeight: "700" },
]);

/**
 * The rule language with its colours, for an editor or a read-only view. Completion and the
 * checker's diagnostics are separate extensions (`clearanceCompletion`, `clearanceLinter`): they
 * need a schema and a checker that only the caller has.
 */
export function clearanceRules(extra: readonly Extension[] = []): LanguageSupport {
  return new LanguageSupport(clearanceLanguage, [syntaxHighlighting(clearanceHighlight), ...extra]);
}
