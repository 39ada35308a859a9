/**
 * Regular expressions in rules (`fileName matches /re/flags`), first stage: is the pattern safe,
 * and which engine runs it. regex-translation.ts then compiles it for that engine.
 *
 * Rule regexes run on untrusted file-analysis data, so no regex may take more than linear time.
 * V8's backtracking engine is fast but super-linear on many innocent-looking patterns
 * (`/a*b/` against 64k `a`s takes over a second); re2js is linear but ~25x slower per test. So
 * `analyzeRegex` rejects what no engine can run in linear time (backreferences, lookaround),
 * then picks V8 only when backtracking provably stays linear, and RE2 otherwise; for RE2 it also
 * checks that the translation is accepted, so a plan it gives always compiles.
 */
import type { AST } from "@eslint-community/regexpp";
import {
  GENERIC_SYNTAX_HELP,
  invalid,
  type Mode,
  modeOf,
  parsePattern,
  type RegexProblem,
  reword,
  snippet,
} from "./regex-syntax.js";
import { translate } from "./regex-translation.js";

export type { RegexProblem } from "./regex-syntax.js";

export interface RegexPlan {
  engine: "v8" | "re2";
  /** Why that engine, for docs and explain output. */
  reason: string;
}

/** A quantifier repeating at most this many times counts as small. */
const SMALL_REPEAT = 10;
/** V8 only when backtracking takes at most this many steps (paths × length) per position. */
const STEP_BUDGET = 2048;

/**
 * Checks a rule's regex and decides which engine runs it. `plan` is set only when there are
 * no problems; pass it to `compileRegex`.
 */
export function analyzeRegex(
  source: string,
  flags: string,
  maxLength: number,
): { plan?: RegexPlan; problems: RegexProblem[] } {
  const problems = checkFlags(flags);
  if (source.length > maxLength) {
    problems.push({
      code: "regex_too_long",
      message: `this regex is ${source.length} characters long, over the limit of ${maxLength}`,
      help: "shorten it, or split it into several `matches` conditions joined with `or`",
    });
    return { problems };
  }
  const parsed = parsePattern(source, flags.includes("u"));
  if (!("type" in parsed)) return { problems: [...problems, parsed] };
  problems.push(...findUnsafe(parsed));
  if (problems.length > 0) return { problems };
  try {
    new RegExp(source, flags);
  } catch (e) {
    // regexpp and V8 should agree; if they don't, V8 has the last word.
    return { problems: [invalid(reword(String((e as Error).message)), GENERIC_SYNTAX_HELP)] };
  }
  const mode = modeOf(flags);
  const plan = choosePlan(parsed, mode);
  if (plan.engine === "re2") {
    const program = translate(parsed, mode);
    if (!("re2" in program)) return { problems: [program] };
  }
  return { plan, problems: [] };
}

function checkFlags(flags: string): RegexProblem[] {
  const problems: RegexProblem[] = [];
  const seen = new Set<string>();
  for (const flag of flags) {
    if (seen.has(flag)) {
      problems.push(invalid(`duplicate regex flag \`${flag}\``, "write each flag once"));
      continue;
    }
    seen.add(flag);
    switch (flag) {
      case "i":
      case "m":
      case "s":
      case "u":
        break;
      case "g":
        problems.push(
          invalid(
            "regex flag `g` is not allowed",
            "drop `g`: `matches` only asks whether the text matches, and `g` would make the regex remember where its last match ended",
          ),
        );
        break;
      case "y":
        problems.push(
          invalid(
            "regex flag `y` is not allowed",
            "drop `y`: `matches` only asks whether the text matches, and `y` would make the regex match only where its last match ended; anchor with `^` instead",
          ),
        );
        break;
      case "d":
        problems.push(
          invalid(
            "regex flag `d` is not supported",
            "drop `d`: it only records match positions, which `matches` does not use",
          ),
        );
        break;
      case "v":
        problems.push(
          invalid(
            "regex flag `v` is not supported",
            "use `u` instead; set operations in classes (`--`, `&&`) are not supported",
          ),
        );
        break;
      default:
        problems.push(
          invalid(`unknown regex flag \`${flag}\``, "the flags are `i`, `m`, `s` and `u`"),
        );
    }
  }
  return problems;
}

/** Backreferences and lookaround: no linear-time engine has them. */
function findUnsafe(pattern: AST.Pattern): RegexProblem[] {
  const problems: RegexProblem[] = [];
  const visit = (node: AST.Node): void => {
    switch (node.type) {
      case "Pattern":
      case "Group":
      case "CapturingGroup":
        node.alternatives.forEach(visit);
        return;
      case "Alternative":
        node.elements.forEach(visit);
        return;
      case "Quantifier":
        visit(node.element);
        return;
      case "Backreference":
        problems.push({
          code: "unsafe_regex",
          message: `backreference \`${snippet(node.raw)}\` cannot be matched in linear time`,
          help: "spell out the text instead of referring back to a group: rule regexes run on untrusted data, so they must match in linear time",
          offset: node.start,
          length: node.end - node.start,
        });
        return;
      case "Assertion":
        if (node.kind === "lookahead" || node.kind === "lookbehind") {
          problems.push({
            code: "unsafe_regex",
            message: `${node.kind} \`${snippet(node.raw)}\` cannot be matched in linear time`,
            help: "match the text itself, or split the test in two: `x matches /a/ and not x matches /b/`; rule regexes run on untrusted data, so they must match in linear time",
            offset: node.start,
            length: node.end - node.start,
          });
        }
        return;
      default:
        return;
    }
  };
  visit(pattern);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Engine choice
//
// A backtracking matcher started at one position explores at most as many paths as the
// pattern has ways to match: alternatives add, sequences multiply, and a quantifier {min,max}
// over an element with p paths has p^min * (1 + p + ... + p^(max-min)). Each path is at most
// as long as the pattern unrolled (a quantifier's maximum times its element). When paths times
// length is small, each start position costs a bounded amount and the whole test is linear.
// Small quantifiers alone, the brief's first test, are not enough: `(?:(?:a|a){10}){3}b` (all
// maxima 10) took 41 s on 40 `a`s, 24 `(?:a|a)` in a row, no quantifier at all, 6 s, and
// `(?:(?:(?:a{10}){10}){10}){10}b`, one path 10,000 long, 1.4 s on 20,000 `a`s.
//
// An unbounded (or large) quantifier makes the count infinite. Anchored at the start (only one
// start position) with a single such loop whose body matches in one way only and which is not
// inside another quantifier, backtracking walks the loop forward once and back once, trying
// the bounded rest of the pattern at each step: still linear.

function choosePlan(pattern: AST.Pattern, mode: Mode): RegexPlan {
  const loops = quantifiers(pattern).filter((q) => q.max > SMALL_REPEAT);
  if (loops.length === 0) {
    const steps = countPaths(pattern, undefined) * Math.max(1, countWidth(pattern, undefined));
    if (steps <= STEP_BUDGET) {
      return v8(
        `no quantifier repeats more than ${SMALL_REPEAT} times and backtracking takes at most ${steps} steps from each start position, so V8 runs in linear time`,
      );
    }
    return re2(
      `alternatives and repeats add up to ${describeCount(steps)} backtracking steps from each start position (V8's budget is ${STEP_BUDGET}), so RE2 runs it in linear time`,
    );
  }
  const [loop, second] = loops as [AST.Quantifier, AST.Quantifier | undefined];
  const what = `\`${snippet(loop.raw)}\` repeats ${loop.max === Infinity ? "without bound" : `up to ${loop.max} times`}`;
  if (second) {
    return re2(
      `${what} and so does \`${snippet(second.raw)}\`: backtracking over two loops can take super-linear time, so RE2 runs it in linear time`,
    );
  }
  const anchored =
    !mode.multiline &&
    pattern.alternatives.every((a) => {
      const first = a.elements[0];
      return first?.type === "Assertion" && first.kind === "start";
    });
  if (!anchored) {
    return re2(
      `${what} and the pattern is not anchored at the start (\`^\` first in every alternative, without \`m\`), so backtracking could take quadratic time; RE2 runs it in linear time`,
    );
  }
  if (insideQuantifier(loop)) {
    return re2(
      `${what} inside another quantifier, so backtracking could take exponential time; RE2 runs it in linear time`,
    );
  }
  if (countPaths(loop.element, undefined) !== 1) {
    return re2(
      `${what} and each repetition can match in several ways, so backtracking could take exponential time; RE2 runs it in linear time`,
    );
  }
  const steps = countPaths(pattern, loop) * Math.max(1, countWidth(pattern, loop));
  if (steps > STEP_BUDGET) {
    return re2(
      `the rest of the pattern around \`${snippet(loop.raw)}\` takes up to ${describeCount(steps)} backtracking steps at each step of the loop (V8's budget is ${STEP_BUDGET}), so RE2 runs it in linear time`,
    );
  }
  return v8(
    `anchored at the start with a single unbounded quantifier, \`${snippet(loop.raw)}\`, outside any other, and at most ${steps} backtracking steps at each step of it, so V8 runs in linear time`,
  );
}

function v8(reason: string): RegexPlan {
  return { engine: "v8", reason };
}

function re2(reason: string): RegexPlan {
  return { engine: "re2", reason };
}

function describeCount(n: number): string {
  return n > 1e9 ? "more than a billion" : String(n);
}

function quantifiers(node: AST.Node, out: AST.Quantifier[] = []): AST.Quantifier[] {
  switch (node.type) {
    case "Pattern":
    case "Group":
    case "CapturingGroup":
      for (const a of node.alternatives) quantifiers(a, out);
      break;
    case "Alternative":
      for (const e of node.elements) quantifiers(e, out);
      break;
    case "Quantifier":
      out.push(node);
      quantifiers(node.element, out);
      break;
    default:
      break;
  }
  return out;
}

function insideQuantifier(node: AST.Node): boolean {
  for (let p = node.parent; p; p = p.parent) if (p.type === "Quantifier") return true;
  return false;
}

/** Backtracking paths from one start position; `loop` counts as one (its linear walk). */
function countPaths(node: AST.Node, loop: AST.Quantifier | undefined): number {
  switch (node.type) {
    case "Pattern":
    case "Group":
    case "CapturingGroup":
      return node.alternatives.reduce((sum, a) => sum + countPaths(a, loop), 0);
    case "Alternative":
      return node.elements.reduce((product, e) => product * countPaths(e, loop), 1);
    case "Quantifier": {
      const p = countPaths(node.element, loop);
      return node === loop ? p : repeatPaths(p, node.min, node.max);
    }
    default:
      return 1;
  }
}

/** How many atoms one path matches at most, the pattern unrolled; `loop` counts once. */
function countWidth(node: AST.Node, loop: AST.Quantifier | undefined): number {
  switch (node.type) {
    case "Pattern":
    case "Group":
    case "CapturingGroup":
      return Math.max(0, ...node.alternatives.map((a) => countWidth(a, loop)));
    case "Alternative":
      return node.elements.reduce((sum, e) => sum + countWidth(e, loop), 0);
    case "Quantifier": {
      const w = countWidth(node.element, loop);
      return node === loop || w === 0 ? w : node.max * w;
    }
    default:
      return 1;
  }
}

function repeatPaths(p: number, min: number, max: number): number {
  if (max === Infinity || p === Infinity) return Infinity;
  if (p <= 1) return max - min + 1;
  let total = 0;
  let term = 1;
  for (let k = 0; k <= max - min; k++) {
    total += term;
    term *= p;
    if (total > 1e12) return Infinity;
  }
  const paths = p ** min * total;
  return paths > 1e12 ? Infinity : paths;
}
