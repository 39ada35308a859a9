import { HighlightStyle, StreamLanguage, type StringStream } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { KEYWORDS as ALL_KEYWORDS } from "../rule-keywords.js";

// The rule language (docs/language.md) for CodeMirror, as a stream tokenizer: keywords, actions,
// strings (with the `{...}` holes of reasons), numbers, durations, timestamps, comments and the
// regular expressions after `matches`. It colours; the checker on the server says what is wrong.
// Kept apart from the editor so that another page (Rules) can show rule files read-only with it.

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
}

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
  startState: () => ({ afterMatches: false, declaring: false, inString: false, inHole: false }),
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
    stream.next();
    return "operator";
  },
  languageData: { commentTokens: { line: "#" } },
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
