import { BUILTINS, type BuiltinName, didYouMean, formatDuration, type Type } from "@clearance/dsl";

/**
 * Every kind of run-time error, in one place. Codes are stable: they appear in `errors[].code` of
 * decisions, and docs/language.md ("Run-time errors and `on-error`") documents each one.
 */
export const RUNTIME_ERROR_CODES = Object.freeze([
  "division_by_zero",
  "invalid_timestamp",
  "invalid_context",
  "invalid_exception",
  "invalid_case",
  "evaluation_budget_exceeded",
  "unexpected_data",
] as const);

export type RuntimeErrorCode = (typeof RUNTIME_ERROR_CODES)[number];

/** A failure while evaluating one rule: reported in `errors`, handled by `on-error`, never thrown out of decide. */
export class RuleRuntimeError extends Error {
  override name = "RuleRuntimeError";
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The evaluation budget of one decision: a step is one list item gone over by `any`, `all` or
 * `count`, charged when the loop starts (its list's length), by the compiled code and the
 * interpreter alike. `used` is reset for each decision; `limit` is `maxEvaluationSteps`.
 */
export class Budget {
  used = 0;
  constructor(public limit: number) {}

  /** Charges a loop over `items` list items; past the limit, the rule fails. */
  charge(items: number): void {
    if ((this.used += items) > this.limit) overBudget(this);
  }
}

export function overBudget(budget: Budget): never {
  throw new RuleRuntimeError(
    "evaluation_budget_exceeded",
    `evaluation budget exceeded: more than ${budget.limit} list items gone over by \`any\`, \`all\` and \`count\` in one decision`,
  );
}

/** An RFC 3339 string from the input (or epoch ms from the context) -> epoch ms; unknown stays unknown. */
export function toTimestamp(value: unknown, what: string): number | undefined {
  if (value == null) return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new RuleRuntimeError(
    "invalid_timestamp",
    `\`${what}\` is not a valid timestamp: \`${String(value).slice(0, 40)}\``,
  );
}

/** `x in list` over a computed list: a miss is unknown when some item is unknown. */
export function member(x: unknown, list: readonly unknown[]): boolean | undefined {
  if (list.includes(x)) return true;
  for (const item of list) if (item == null) return undefined;
  return false;
}

export function divide(a: number, b: number, what: string): number {
  if (b === 0) throw new RuleRuntimeError("division_by_zero", `division by zero in \`${what}\``);
  return a / b;
}

export function remainder(a: number, b: number, what: string): number {
  if (b === 0) throw new RuleRuntimeError("division_by_zero", `division by zero in \`${what}\``);
  return a % b;
}

/** How a value appears inside a reason. */
export function formatValue(value: unknown, type: Type): string {
  if (value == null) return "unknown";
  switch (type.kind) {
    case "duration":
      return formatDuration(value as number);
    case "timestamp":
      return new Date(value as number).toISOString();
    case "number":
      return Number.isInteger(value)
        ? String(value)
        : String(Math.round((value as number) * 100) / 100);
    case "list":
      return (value as unknown[]).map((v) => formatValue(v, type.element)).join(", ");
    default:
      return String(value);
  }
}

/**
 * The request context after checking it against the declared fields, once per decision.
 * A field of the wrong type is not thrown at once: only rules that read it fail.
 */
export interface PreparedContext {
  values: Readonly<Record<string, unknown>>;
  bad: ReadonlyMap<string, string> | undefined;
  /** the built-in `exception` and `case` of this decision, when it has them */
  exception?: PreparedBuiltin;
  case?: PreparedBuiltin;
}

/** Values live in a prototype-free object: a context field named `toString` is just a field. */
export const EMPTY_CONTEXT: PreparedContext = Object.freeze({
  values: Object.freeze(Object.create(null) as Record<string, unknown>),
  bad: undefined,
});

export function prepareContext(
  context: unknown,
  declared: ReadonlyMap<string, { type: Type }>,
): PreparedContext {
  if (context == null) return EMPTY_CONTEXT;
  if (typeof context !== "object" || Array.isArray(context)) {
    const bad = new Map<string, string>();
    for (const name of declared.keys()) bad.set(name, "the context is not an object");
    return { values: Object.create(null) as Record<string, unknown>, bad };
  }
  const values = Object.create(null) as Record<string, unknown>;
  let bad: Map<string, string> | undefined;
  for (const [name, field] of declared) {
    const raw = Object.hasOwn(context, name)
      ? (context as Record<string, unknown>)[name]
      : undefined;
    if (raw == null) continue;
    const problem = contextProblem(raw, field.type);
    if (problem) {
      bad ??= new Map();
      bad.set(name, `context field \`${name}\` ${problem}`);
      continue;
    }
    values[name] = normalise(raw, field.type, `context.${name}`);
  }
  return { values, bad };
}

/** Timestamps, also inside lists, become epoch milliseconds, as rules compare them. */
function normalise(value: unknown, type: Type, what: string): unknown {
  if (type.kind === "timestamp") return toTimestamp(value, what);
  if (type.kind === "list" && Array.isArray(value))
    return value.map((v) => normalise(v, type.element, what));
  return value;
}

/**
 * Every problem with a request context, as JSON Pointers: not an object, an undeclared field (with a
 * suggestion) or a field of the wrong type. `decide` tolerates these (only rules that read a bad field
 * fail); a caller that wants strict input, such as the HTTP API, rejects the request instead.
 */
export function contextProblems(
  context: unknown,
  declared: ReadonlyMap<string, { type: Type }>,
): { pointer: string; message: string }[] {
  if (context == null) return [];
  if (typeof context !== "object" || Array.isArray(context))
    return [{ pointer: "", message: `the context should be an object, got ${describe(context)}` }];
  const problems: { pointer: string; message: string }[] = [];
  for (const name of Object.keys(context)) {
    const pointer = `/${name.replaceAll("~", "~0").replaceAll("/", "~1")}`;
    const field = declared.get(name);
    if (field === undefined) {
      const hint = didYouMean(name, declared.keys());
      const known =
        declared.size === 0
          ? "the rules declare no context fields"
          : `declared: ${[...declared.keys()].map((k) => `\`${k}\``).join(", ")}`;
      problems.push({
        pointer,
        message: `unknown context field \`${name.slice(0, 80)}\` (${hint ?? known})`,
      });
      continue;
    }
    const value = (context as Record<string, unknown>)[name];
    if (value == null) continue;
    const problem = contextProblem(value, field.type);
    if (problem) problems.push({ pointer, message: `context field \`${name}\` ${problem}` });
  }
  return problems;
}

function contextProblem(value: unknown, type: Type): string | undefined {
  switch (type.kind) {
    case "string":
      if (typeof value !== "string") return `should be a string, got ${describe(value)}`;
      return type.enum === undefined || type.enum.includes(value)
        ? undefined
        : `should be one of ${type.enum.map((v) => `\`${v}\``).join(", ")}, got ${describe(value)}`;
    case "number":
    case "duration":
      return typeof value === "number" && Number.isFinite(value)
        ? undefined
        : `should be a ${type.kind === "duration" ? "duration in milliseconds" : "number"}, got ${describe(value)}`;
    case "bool":
      return typeof value === "boolean"
        ? undefined
        : `should be true or false, got ${describe(value)}`;
    case "timestamp":
      return (typeof value === "string" && !Number.isNaN(Date.parse(value))) ||
        (typeof value === "number" && Number.isFinite(value))
        ? undefined
        : `should be an RFC 3339 timestamp, got ${describe(value)}`;
    case "list": {
      if (!Array.isArray(value)) return `should be a list, got ${describe(value)}`;
      for (let i = 0; i < value.length; i++) {
        const p = contextProblem(value[i], type.element);
        if (p) return `item ${i} ${p}`;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "string") return `\`${value.slice(0, 40)}\``;
  return typeof value === "object" ? "an object" : `\`${String(value)}\``;
}

/** The fields `decide` needs to make sense of an exception or a case. */
const REQUIRED: Readonly<Record<BuiltinName, readonly string[]>> = {
  exception: ["id", "status"],
  case: ["id", "status"],
};

/** The run-time error of a rule that reads a malformed `exception` or `case`. */
const BUILTIN_ERROR: Readonly<Record<BuiltinName, RuntimeErrorCode>> = {
  exception: "invalid_exception",
  case: "invalid_case",
};

/**
 * Every problem with a decision's `exception` or `case`, as JSON Pointers into it: not an object,
 * a required field missing, an unknown field, or a field of the wrong type (an enum's value
 * included). `decide` tolerates them (only the rules that read a bad field fail); a caller that
 * wants strict input, such as a rule test file, rejects it instead.
 */
export function builtinProblems(
  root: BuiltinName,
  value: unknown,
): { pointer: string; message: string }[] {
  if (value == null) return [];
  if (typeof value !== "object" || Array.isArray(value))
    return [{ pointer: "", message: `the ${root} should be an object, got ${describe(value)}` }];
  const fields = BUILTINS.get(root)!;
  const problems: { pointer: string; message: string }[] = [];
  for (const name of REQUIRED[root]) {
    if ((value as Record<string, unknown>)[name] == null)
      problems.push({ pointer: "", message: `the ${root} has no \`${name}\`` });
  }
  for (const [name, raw] of Object.entries(value)) {
    const pointer = `/${name.replaceAll("~", "~0").replaceAll("/", "~1")}`;
    const field = fields.get(name);
    if (field === undefined) {
      const hint = didYouMean(name, fields.keys());
      problems.push({
        pointer,
        message: `unknown ${root} field \`${name.slice(0, 80)}\` (${hint ?? `fields: ${[...fields.keys()].map((k) => `\`${k}\``).join(", ")}`})`,
      });
      continue;
    }
    if (raw == null) continue;
    const problem = contextProblem(raw, field.type);
    if (problem) problems.push({ pointer, message: `${root} field \`${name}\` ${problem}` });
  }
  return problems;
}

/**
 * A decision's `exception` or `case`. Like the context, a field of the wrong type fails only the
 * rules that read it, and a value that is not an object, or lacks a required field, fails every
 * rule that reads any of its fields; unknown fields are ignored. Unlike the context, each field
 * is checked when a rule reads it, not before: a decision pays for the fields its rules read
 * (often only `status`), which keeps a decision with an exception as cheap as one without.
 */
export class PreparedBuiltin {
  private readonly fields: ReadonlyMap<string, { type: Type }>;
  private constructor(
    readonly root: BuiltinName,
    private readonly value: Readonly<Record<string, unknown>>,
    /** why every field fails, when the value as a whole is malformed */
    private readonly whole: string | undefined,
  ) {
    this.fields = BUILTINS.get(root)!;
  }

  static of(root: BuiltinName, value: unknown): PreparedBuiltin | undefined {
    if (value == null) return undefined;
    if (typeof value !== "object" || Array.isArray(value))
      return new PreparedBuiltin(root, {}, `the ${root} is not an object`);
    const r = value as Record<string, unknown>;
    for (const name of REQUIRED[root])
      if (r[name] == null) return new PreparedBuiltin(root, {}, `the ${root} has no \`${name}\``);
    return new PreparedBuiltin(root, r, undefined);
  }

  /** The field's value as rules see it (timestamps in epoch ms), or the rule's run-time error. */
  read(name: string): unknown {
    if (this.whole !== undefined) throw new RuleRuntimeError(BUILTIN_ERROR[this.root], this.whole);
    const raw = Object.hasOwn(this.value, name) ? this.value[name] : undefined;
    if (raw == null) return undefined;
    const type = this.fields.get(name)!.type;
    const problem = contextProblem(raw, type);
    if (problem !== undefined)
      throw new RuleRuntimeError(
        BUILTIN_ERROR[this.root],
        `${this.root} field \`${name}\` ${problem}`,
      );
    return normalise(raw, type, `${this.root}.${name}`);
  }

  /** The `id`, when it is a string: what a decision names. */
  get id(): string | undefined {
    const id = this.whole === undefined ? this.value.id : undefined;
    return typeof id === "string" ? id : undefined;
  }
}

/** A field of the decision's `exception` or `case`; unknown when the decision has none. */
export function readBuiltin(c: PreparedContext, root: BuiltinName, name: string): unknown {
  const record = c[root];
  return record === undefined ? undefined : record.read(name);
}

export function readContext(c: PreparedContext, name: string): unknown {
  if (c.bad !== undefined) {
    const problem = c.bad.get(name);
    if (problem !== undefined) throw new RuleRuntimeError("invalid_context", problem);
  }
  return c.values[name];
}
