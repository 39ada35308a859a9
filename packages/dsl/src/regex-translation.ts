/**
 * Regular expressions in rules, second stage: a pattern `analyzeRegex` accepted (see
 * regex-analysis.ts), compiled for the engine its plan chose. V8 takes the pattern as written.
 *
 * For RE2, the JS pattern is not handed over as text: it is translated from regexpp's AST into
 * RE2 syntax with JS semantics spelled out, so both engines give the same answers:
 * - character sets are computed here, with JS's meaning, and emitted as explicit code point
 *   ranges: `\s` (RE2's lacks `\v`, U+00A0, U+FEFF and the Unicode spaces), `.` (RE2's only
 *   excludes `\n`; JS's also `\r`, U+2028, U+2029), `\d`, `\w`, classes, ranges, negation;
 * - case folding (`i`) is done here too, never by RE2: JS without `u` folds with `toUpperCase`
 *   and never maps non-ASCII to ASCII (`/k/i` does not match the Kelvin sign U+212A, `/s/i`
 *   not `ſ` U+017F, `ß` not `ẞ`), JS with `u` uses simple case folding (it does match them),
 *   while RE2 always folds like the latter. The equivalence classes are taken from V8 itself;
 * - `\p{…}` sets (with `u`) are computed by asking V8, so RE2's own Unicode tables, which
 *   may be of another Unicode version and lack many JS property names, are never used;
 * - without `u`, JS works on UTF-16 code units and RE2 on code points: `/^.$/` does not
 *   match "😀" in JS. So each surrogate code unit of the input, paired or not, is mapped to
 *   its own private-use code point (U+F0000 + unit - 0xD800) before RE2 sees it, and the
 *   pattern's sets are mapped the same way;
 * - with `m`, JS's `^`/`$` also break lines at `\r`, U+2028 and U+2029, RE2's only at `\n`.
 *   Those are mapped to `\n` in the input, which is exact as long as every character set of
 *   the pattern treats the four alike (`.`, `\s`, `[^a]` do); patterns that tell them apart
 *   (`\r`, `[^\n]`) are rejected with `m` anchors rather than silently answering differently;
 * - flags are therefore never passed to RE2: `i`, `s` and `m` are all part of the translation.
 *
 * Known differences left (excluded from the agreement test):
 * - with both `i` and `u`, JS's `\b` and `\B` count `ſ` (U+017F) and the Kelvin sign (U+212A)
 *   as word characters; RE2's don't;
 * - with `u`, V8 (against the spec) also tries an empty match between the two halves of a
 *   surrogate pair, where `\B` holds: `/\B/u.test("a😀a")` is true in V8, false on RE2. Only
 *   patterns that can match the empty string at a `\B` are affected.
 */
import type { AST } from "@eslint-community/regexpp";
import { RE2JS } from "re2js";
import type { RegexPlan } from "./regex-analysis.js";
import {
  invalid,
  type Mode,
  modeOf,
  parsePattern,
  type RegexProblem,
  snippet,
} from "./regex-syntax.js";

export interface CompiledRegex {
  /** Whether the pattern matches anywhere in `input`. Stateless: safe to call reentrantly. */
  test(input: string): boolean;
  readonly source: string;
  readonly flags: string;
  readonly engine: "v8" | "re2";
}

/** Without `u`, surrogate code units are mapped to U+F0000 + (unit - 0xD800) for RE2. */
const SURROGATE_BASE = 0xf0000;

/** Compiles a regex that `analyzeRegex` accepted, on the engine its plan chose. */
export function compileRegex(source: string, flags: string, plan: RegexPlan): CompiledRegex {
  if (/[^imsu]/.test(flags)) {
    throw new Error(`compileRegex: flags \`${flags}\` were not accepted by analyzeRegex`);
  }
  if (plan.engine === "v8") {
    const re = new RegExp(source, flags);
    // Without `g` or `y`, `RegExp.prototype.test` neither reads nor writes `lastIndex`.
    return Object.freeze({ source, flags, engine: "v8", test: (input: string) => re.test(input) });
  }
  const parsed = parsePattern(source, flags.includes("u"));
  if (!("type" in parsed)) throw new Error(`compileRegex: ${parsed.message}`);
  const program = translate(parsed, modeOf(flags));
  if (!("re2" in program)) throw new Error(`compileRegex: ${program.message}`);
  const { re2, detect, replace } = program;
  const test =
    detect && replace
      ? (input: string) => re2.test(detect.test(input) ? input.replace(replace, mapUnit) : input)
      : (input: string) => re2.test(input);
  return Object.freeze({ source, flags, engine: "re2", test });
}

/** Input mapping for RE2: surrogate units to private-use code points, line breaks to `\n`. */
function mapUnit(ch: string): string {
  const c = ch.charCodeAt(0);
  return c >= 0xd800 && c <= 0xdfff ? String.fromCodePoint(SURROGATE_BASE + c - 0xd800) : "\n";
}

// The detectors are not global, so `test` keeps no state; `replace` resets `lastIndex` itself.
const INPUT_MAPPINGS = {
  units: { detect: /[\uD800-\uDFFF]/, replace: /[\uD800-\uDFFF]/g },
  lines: { detect: /[\r\u2028\u2029]/, replace: /[\r\u2028\u2029]/g },
  both: { detect: /[\r\u2028\u2029\uD800-\uDFFF]/, replace: /[\r\u2028\u2029\uD800-\uDFFF]/g },
};

interface Re2Program {
  re2: RE2JS;
  detect?: RegExp;
  replace?: RegExp;
}

/** The RE2 program for a parsed pattern, or why RE2 cannot run it with the JS meaning. */
export function translate(pattern: AST.Pattern, mode: Mode): Re2Program | RegexProblem {
  const translator = new Translator(mode);
  const text = translator.emit(pattern);
  const mapLines = mode.multiline && translator.lineAnchors;
  if (mapLines && translator.lineSplitter) {
    const node = translator.lineSplitter;
    return invalid(
      `\`${snippet(node.raw)}\` is not supported in this pattern with the \`m\` flag`,
      "with `m`, `^` and `$` treat `\\n`, `\\r`, U+2028 and U+2029 alike, and the linear-time engine needs every character set to do the same: use `.` or `\\s`, or drop `m` and match line breaks explicitly, as in `(?:^|\\n)`",
      node.start,
      node.end - node.start,
    );
  }
  let re2: RE2JS;
  try {
    re2 = RE2JS.compile(text, 0);
  } catch (e) {
    const node = culprit(pattern, translator);
    const detail = String((e as Error).message).replace(/^error parsing regexp: /, "");
    return invalid(
      `\`${snippet(node.raw)}\` is not supported in this pattern (RE2: ${detail})`,
      /repeat|repetition/.test(detail)
        ? "this pattern needs the linear-time RE2 engine, which allows at most 1000 repetitions, nested repeats multiplied; use a smaller count, or `*` / `+`"
        : "this pattern needs the linear-time RE2 engine, which does not accept this part; rewrite it",
      node.start,
      node.end - node.start,
    );
  }
  const mapping = !mode.unicode
    ? mapLines
      ? INPUT_MAPPINGS.both
      : INPUT_MAPPINGS.units
    : mapLines
      ? INPUT_MAPPINGS.lines
      : undefined;
  return mapping ? { re2, ...mapping } : { re2 };
}

/** The smallest node whose translation RE2 rejects on its own. */
function culprit(node: AST.Node, translator: Translator): AST.Node {
  let children: AST.Node[] = [];
  if (node.type === "Pattern" || node.type === "Group" || node.type === "CapturingGroup") {
    children = node.alternatives;
  } else if (node.type === "Alternative") children = node.elements;
  else if (node.type === "Quantifier") children = [node.element];
  for (const child of children) {
    try {
      RE2JS.compile(translator.emit(child), 0);
    } catch {
      return culprit(child, translator);
    }
  }
  return node;
}

/** regexpp AST → RE2 syntax with the JS meaning (see the top of this file). */
class Translator {
  /** Whether the pattern has `^` or `$` (matters with `m`). */
  lineAnchors = false;
  /** The first character set that tells `\n`, `\r`, U+2028 and U+2029 apart. */
  lineSplitter: AST.Node | undefined;
  private readonly max: number;

  constructor(private readonly mode: Mode) {
    this.max = mode.unicode ? 0x10ffff : 0xffff;
  }

  emit(node: AST.Node): string {
    switch (node.type) {
      case "Pattern":
        return node.alternatives.map((a) => this.emit(a)).join("|");
      case "Group":
      case "CapturingGroup":
        return `(?:${node.alternatives.map((a) => this.emit(a)).join("|")})`;
      case "Alternative":
        return node.elements.map((e) => this.emit(e)).join("");
      case "Quantifier": {
        // Laziness does not change whether there is a match.
        const { min, max } = node;
        const suffix =
          max === Infinity
            ? min === 0
              ? "*"
              : min === 1
                ? "+"
                : `{${min},}`
            : min === max
              ? `{${min}}`
              : min === 0 && max === 1
                ? "?"
                : `{${min},${max}}`;
        return `(?:${this.emit(node.element)})${suffix}`;
      }
      case "Character":
      case "CharacterSet":
      case "CharacterClass":
        return this.emitSet(node, this.matcherSet(node));
      case "Assertion":
        switch (node.kind) {
          case "start":
            this.lineAnchors = true;
            return this.mode.multiline ? "(?m:^)" : "\\A";
          case "end":
            this.lineAnchors = true;
            return this.mode.multiline ? "(?m:$)" : "\\z";
          case "word":
            return node.negate ? "\\B" : "\\b";
          default:
            throw new Error("regex: lookaround reached the translator");
        }
      default:
        throw new Error(`regex: cannot translate ${node.type}`);
    }
  }

  /** The characters one matcher accepts, JS semantics, in JS's space (units without `u`). */
  private matcherSet(node: AST.Character | AST.CharacterSet | AST.CharacterClass): CharSet {
    if (node.type === "CharacterClass") {
      const parts = node.elements.map((e) => this.elementSet(e));
      const set = this.folded(union(parts.flat()));
      return node.negate ? complement(set, this.max) : set;
    }
    return this.folded(this.elementSet(node));
  }

  /** The unfolded set of a class element or standalone atom (property escapes come folded). */
  private elementSet(node: AST.Node): CharSet {
    switch (node.type) {
      case "Character":
        return [node.value, node.value];
      case "CharacterClassRange":
        return [node.min.value, node.max.value];
      case "CharacterSet":
        switch (node.kind) {
          case "any":
            return this.mode.dotAll ? [0, this.max] : complement(LINE_TERMINATORS, this.max);
          case "digit":
            return node.negate ? complement(DIGIT, this.max) : DIGIT;
          case "space":
            return node.negate ? complement(SPACE, this.max) : SPACE;
          case "word": {
            const word = this.folded(WORD);
            return node.negate ? complement(word, this.max) : word;
          }
          case "property":
            return propertySet(node.raw, this.mode.ignoreCase);
          default:
            throw new Error("regex: unknown character set");
        }
      default:
        throw new Error(`regex: cannot translate ${node.type} in a class`);
    }
  }

  private folded(set: CharSet): CharSet {
    return this.mode.ignoreCase ? fold(set, this.mode.unicode) : set;
  }

  private emitSet(node: AST.Node, set: CharSet): string {
    const terminators = LINE_TERMINATOR_LIST.filter((c) => contains(set, c)).length;
    if (terminators !== 0 && terminators !== LINE_TERMINATOR_LIST.length) {
      this.lineSplitter ??= node;
    }
    const mapped = this.mode.unicode ? set : mapSurrogates(set);
    if (mapped.length === 0) return "[^\\x{0}-\\x{10FFFF}]";
    if (mapped.length === 2 && mapped[0] === mapped[1]) return char(mapped[0]!);
    const negated = complement(mapped, 0x10ffff);
    if (negated.length === 0) return "[\\x{0}-\\x{10FFFF}]";
    return negated.length < mapped.length ? `[^${ranges(negated)}]` : `[${ranges(mapped)}]`;
  }
}

function char(c: number): string {
  return c < 0x80 && /^[0-9A-Za-z_]$/.test(String.fromCharCode(c))
    ? String.fromCharCode(c)
    : `\\x{${c.toString(16).toUpperCase()}}`;
}

function ranges(set: CharSet): string {
  let out = "";
  for (let i = 0; i < set.length; i += 2) {
    const lo = set[i]!;
    const hi = set[i + 1]!;
    out += lo === hi ? char(lo) : `${char(lo)}-${char(hi)}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Character sets: sorted, disjoint, non-adjacent inclusive ranges, flattened [lo, hi, lo, hi…]

type CharSet = readonly number[];

const LINE_TERMINATOR_LIST = [0x0a, 0x0d, 0x2028, 0x2029];
const LINE_TERMINATORS: CharSet = [0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029];
const DIGIT: CharSet = [0x30, 0x39];
const WORD: CharSet = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
/** JS `\s`: WhiteSpace (TAB, VT, FF, ZWNBSP and category Zs) and LineTerminator. */
const SPACE: CharSet = [
  0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f,
  0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff,
];

function union(flat: readonly number[]): CharSet {
  const pairs: [number, number][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

function complement(set: CharSet, max: number): CharSet {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < set.length; i += 2) {
    if (set[i]! > next) out.push(next, set[i]! - 1);
    next = set[i + 1]! + 1;
  }
  if (next <= max) out.push(next, max);
  return out;
}

function contains(set: CharSet, c: number): boolean {
  for (let i = 0; i < set.length; i += 2) if (set[i]! <= c && c <= set[i + 1]!) return true;
  return false;
}

/** Without `u`: surrogate units D800-DFFF move to F0000-F07FF, like the input does. */
function mapSurrogates(set: CharSet): CharSet {
  const out: number[] = [];
  for (let i = 0; i < set.length; i += 2) {
    const lo = set[i]!;
    const hi = set[i + 1]!;
    if (hi < 0xd800 || lo > 0xdfff) {
      out.push(lo, hi);
      continue;
    }
    if (lo < 0xd800) out.push(lo, 0xd7ff);
    const shift = SURROGATE_BASE - 0xd800;
    out.push(Math.max(lo, 0xd800) + shift, Math.min(hi, 0xdfff) + shift);
    if (hi > 0xdfff) out.push(0xe000, hi);
  }
  return union(out);
}

// ---------------------------------------------------------------------------------------------
// Case folding, with V8 as the reference: built once per process, on first use.

interface FoldTable {
  /** Code points that are case-equivalent to some other code point, ascending. */
  points: number[];
  classes: Map<number, readonly number[]>;
}

const foldTables = new Map<boolean, FoldTable>();
let caseLinks: [number, number][] | undefined;

/**
 * Candidate pairs for case equivalence over the planes that have cased letters: a character
 * and its lower or upper case, and characters with the same multi-character case mapping
 * (U+1FD3 and U+0390 both upper-case to "\u0399\u0308\u0301" and fold together under `iu`).
 */
function allCaseLinks(): [number, number][] {
  if (caseLinks) return caseLinks;
  const links: [number, number][] = [];
  const byMapping = new Map<string, number>();
  for (let c = 0; c <= 0x1ffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const s = String.fromCodePoint(c);
    for (const t of [s.toLowerCase(), s.toUpperCase()]) {
      if (t === s) continue;
      const d = t.codePointAt(0)!;
      if (t.length === (d > 0xffff ? 2 : 1)) links.push([c, d]);
      else {
        const first = byMapping.get(t);
        if (first === undefined) byMapping.set(t, c);
        else links.push([c, first]);
      }
    }
  }
  caseLinks = links;
  return links;
}

function foldTable(unicode: boolean): FoldTable {
  const cached = foldTables.get(unicode);
  if (cached) return cached;
  const limit = unicode ? 0x1ffff : 0xffff;
  const neighbours = new Map<number, number[]>();
  const link = (a: number, b: number) => {
    const list = neighbours.get(a);
    if (list) list.push(b);
    else neighbours.set(a, [b]);
  };
  for (const [a, b] of allCaseLinks()) {
    if (a > limit || b > limit) continue;
    link(a, b);
    link(b, a);
  }
  // Components of the lower/upper graph are candidates; V8 decides which members really match
  // (`ı` upper-cases to `I`, yet `/ı/iu` matches neither `I` nor `i`).
  const classes = new Map<number, readonly number[]>();
  const seen = new Set<number>();
  for (const start of neighbours.keys()) {
    if (seen.has(start)) continue;
    const component = [start];
    seen.add(start);
    for (let i = 0; i < component.length; i++) {
      for (const n of neighbours.get(component[i]!) ?? []) {
        if (!seen.has(n)) {
          seen.add(n);
          component.push(n);
        }
      }
    }
    let rest = component.sort((a, b) => a - b);
    while (rest.length > 0) {
      const probe = new RegExp(`^${escapeForV8(rest[0]!, unicode)}$`, unicode ? "iu" : "i");
      const members = rest.filter((c) => probe.test(String.fromCodePoint(c)));
      rest = rest.filter((c) => !members.includes(c));
      if (members.length > 1) for (const c of members) classes.set(c, members);
    }
  }
  const table = { points: [...classes.keys()].sort((a, b) => a - b), classes };
  foldTables.set(unicode, table);
  return table;
}

function escapeForV8(c: number, unicode: boolean): string {
  return unicode ? `\\u{${c.toString(16)}}` : `\\u${c.toString(16).padStart(4, "0")}`;
}

/** Everything case-equivalent to a member of `set`. */
function fold(set: CharSet, unicode: boolean): CharSet {
  const { points, classes } = foldTable(unicode);
  const extra: number[] = [];
  for (let i = 0; i < set.length; i += 2) {
    const hi = set[i + 1]!;
    for (let j = lowerBound(points, set[i]!); j < points.length && points[j]! <= hi; j++) {
      for (const c of classes.get(points[j]!)!) extra.push(c, c);
    }
  }
  return extra.length === 0 ? set : union([...set, ...extra]);
}

function lowerBound(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// Unicode property escapes (`\p{…}`, `u` only), computed by V8 and cached per process.

const propertySets = new Map<string, CharSet>();

/** The code points `raw` (`\p{…}` or `\P{…}`) matches under `u`, and `i` when `ignoreCase`. */
function propertySet(raw: string, ignoreCase: boolean): CharSet {
  const key = `${ignoreCase ? "i" : "-"}${raw}`;
  const cached = propertySets.get(key);
  if (cached) return cached;
  const re = new RegExp(`^${raw}$`, ignoreCase ? "iu" : "u");
  const out: number[] = [];
  let start = -1;
  for (let c = 0; c <= 0x110000; c++) {
    const inside = c <= 0x10ffff && re.test(String.fromCodePoint(c));
    if (inside && start < 0) start = c;
    else if (!inside && start >= 0) {
      out.push(start, c - 1);
      start = -1;
    }
  }
  propertySets.set(key, out);
  return out;
}
