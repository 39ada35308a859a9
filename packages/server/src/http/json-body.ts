/**
 * Request bodies as JSON, read so that no body can hold the event loop for long:
 *
 * 1. one linear scan, run on each chunk as it arrives, counts the nesting of arrays and objects
 *    outside strings and refuses a body deeper than the limit (`json_too_deep`) before
 *    `JSON.parse` builds anything; the bytes go into one buffer of the declared length, so no
 *    large copy is made at the end;
 * 2. the bytes must be UTF-8 (`invalid_utf8`, with the offset of the first bad byte), so the text
 *    stored as an input snapshot is the body byte for byte;
 * 3. a body larger than `pieceBytes` (only a batch can be) is parsed in pieces: each member of the
 *    top-level object, and the elements of a top-level array (or of an array that is a member's
 *    value) in groups, yielding to the event loop whenever `sliceMs` has been spent, so other
 *    requests run in between. No element may be larger than `pieceBytes` (`body_too_large`, with
 *    its pointer);
 * 4. a key `__proto__`, or a `constructor` holding a `prototype`, is refused (`forbidden_key`, with
 *    its pointer): `JSON.parse` makes them plain properties, but code that copies objects with
 *    assignment would change prototypes through them, and no analysis result needs them.
 */
import { isUtf8 } from "node:buffer";
import type { Readable } from "node:stream";
import { type ProblemDetail, ProblemError } from "./problems.js";

export interface JsonBodyOptions {
  /** deepest nesting of arrays and objects */
  maxDepth: number;
  /** a larger body is parsed in pieces, none of which may be larger */
  pieceBytes: number;
  /** the longest run of parsing between two yields to the event loop */
  sliceMs: number;
  /** the option names quoted in messages */
  names: { maxDepth: string; pieceBytes: string };
}

export interface JsonBody {
  value: unknown;
  /** the body as text (without a leading byte-order mark); only for bodies parsed whole */
  text: string | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isPunctuation(c: number): boolean {
  return (
    c === OPEN_OBJECT ||
    c === CLOSE_OBJECT ||
    c === OPEN_ARRAY ||
    c === CLOSE_ARRAY ||
    c === COMMA ||
    c === COLON
  );
}

/** Elements of a large array parsed by one `JSON.parse`, when they are small. */
const GROUP_BYTES = 64 * 1024;
/** Bytes scanned between two looks at the clock. */
const SCAN_STEP = 1024 * 1024;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function malformed(detail: string): ProblemError {
  return new ProblemError("malformed_json", `the body is not valid JSON: ${detail}`);
}

/**
 * Reads a JSON request body as it arrives: each chunk is scanned at once, so a body nested too
 * deep is known after its first bytes. After a refusal the rest of the body is read and dropped
 * (the client then gets the answer rather than a reset connection). Throws ProblemError.
 */
export function readJsonBody(
  stream: Readable,
  declaredLength: number | undefined,
  limit: number,
  options: JsonBodyOptions,
  /** the setting `limit` comes from, for the refusal (default `` `server.bodyLimit` ``) */
  limitName?: string,
): Promise<JsonBody> {
  if (declaredLength !== undefined && declaredLength > limit)
    return Promise.reject(tooLarge(limit, limitName));
  return new Promise((resolve, reject) => {
    // with a declared length (every ordinary client sends one) the bytes are copied into place as
    // they come; without, chunks are joined at the end and scanned then
    const buffer = declaredLength === undefined ? undefined : Buffer.allocUnsafe(declaredLength);
    const chunks: Buffer[] = [];
    let received = 0;
    let scan: Scanner | undefined;
    let refused: unknown;
    const done = (error: unknown, body?: Promise<JsonBody>) => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      if (error === undefined) resolve(body!);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      if (received + chunk.length > limit) {
        done(tooLarge(limit, limitName));
        return;
      }
      if (refused === undefined) {
        if (buffer === undefined) chunks.push(chunk);
        else if (received + chunk.length <= buffer.length) chunk.copy(buffer, received);
      }
      received += chunk.length;
      if (refused !== undefined || buffer === undefined || received > buffer.length) return;
      try {
        if (scan === undefined && received >= 3)
          scan = new Scanner(
            buffer,
            bomLength(buffer),
            options,
            buffer.length > options.pieceBytes,
          );
        scan?.run(received, false);
      } catch (error) {
        refused = error;
      }
    };
    const onEnd = () => {
      if (refused !== undefined) return done(refused);
      if (buffer === undefined)
        return done(undefined, parseJsonBody(Buffer.concat(chunks), options));
      if (received !== buffer.length)
        return done(
          new ProblemError("invalid_request", "the Content-Length does not match the body"),
        );
      try {
        scan ??= new Scanner(
          buffer,
          bomLength(buffer),
          options,
          buffer.length > options.pieceBytes,
        );
        scan.run(received, true);
        done(undefined, finishBody(buffer, scan, options));
      } catch (error) {
        done(error);
      }
    };
    const onError = (error: Error) => done(error);
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("error", onError);
    stream.resume();
  });
}

/** Reads a JSON body that is all there; throws ProblemError. */
export async function parseJsonBody(body: Buffer, options: JsonBodyOptions): Promise<JsonBody> {
  const pieces = body.length > options.pieceBytes;
  const scan = new Scanner(body, bomLength(body), options, pieces);
  let sliceStart = performance.now();
  for (let at = 0; at < body.length; at += SCAN_STEP) {
    const until = Math.min(body.length, at + SCAN_STEP);
    scan.run(until, until === body.length);
    if (pieces && performance.now() - sliceStart >= options.sliceMs) {
      await yieldToLoop();
      sliceStart = performance.now();
    }
  }
  if (body.length === 0) scan.run(0, true);
  return finishBody(body, scan, options);
}

function tooLarge(limit: number, name: string | undefined): ProblemError {
  return new ProblemError("body_too_large", bodyTooLarge(limit, name));
}

/**
 * Why a body is refused for its size, naming the setting that limits it, as every input limit
 * says it: ``the body is over the limit of 1048576 bytes (`server.bodyLimit`)``.
 */
export function bodyTooLarge(limit: number, name = "`server.bodyLimit`"): string {
  return `the body is over the limit of ${limit} bytes (${name})`;
}

/** A byte-order mark is skipped, as JSON.parse of fastify's reader did; offsets stay the body's. */
function bomLength(body: Buffer): number {
  return body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
}

/** Once the scan has seen every byte: the UTF-8 check, then the parse, whole or in pieces. */
async function finishBody(
  body: Buffer,
  scan: Scanner,
  options: JsonBodyOptions,
): Promise<JsonBody> {
  const start = bomLength(body);
  if (body.length - start === 0 || isBlank(body, start))
    throw new ProblemError("malformed_json", "the body is empty; send a JSON object");
  const bad = firstInvalidUtf8(body, start);
  if (bad !== -1)
    throw new ProblemError(
      "invalid_utf8",
      `the body is not UTF-8: byte ${bad} (\`0x${body[bad]!.toString(16).padStart(2, "0")}\`) is invalid`,
    );
  if (!scan.pieces) {
    const text = body.toString("utf8", start);
    const value = parseText(text);
    refuseForbiddenKeys(value, "", suspectKeys(text));
    return { value, text };
  }
  return { value: await assemble(body, scan.finish(), options), text: undefined };
}

function isBlank(body: Buffer, start: number): boolean {
  for (let i = start; i < body.length; i++) if (!isSpace(body[i]!)) return false;
  return true;
}

/** JSON.parse; `offset` says where a piece of a larger body starts. */
function parseText(text: string, offset?: number): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    throw malformed(offset === undefined ? message : `in the piece at byte ${offset}: ${message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// UTF-8

/** Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array, from = 0): number {
  if (isUtf8(from === 0 ? bytes : bytes.subarray(from))) return -1;
  let i = from;
  const n = bytes.length;
  while (i < n) {
    const c = bytes[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min = 0x80;
    let max = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) min = 0xa0; // no overlong forms
      if (c === 0xed) max = 0x9f; // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) min = 0x90;
      if (c === 0xf4) max = 0x8f; // nothing above U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      const b = bytes[i + k];
      if (b === undefined) return i;
      const lo = k === 1 ? min : 0x80;
      const hi = k === 1 ? max : 0xbf;
      if (b < lo || b > hi) return i;
    }
    i += need + 1;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// The scan

/** A run of elements of one array, parsed together as `[<bytes>]`. */
interface Group {
  start: number;
  end: number;
  /** the index of its first element in the array */
  first: number;
}

interface ArrayPlan {
  kind: "array";
  groups: Group[];
}

interface ValuePlan {
  kind: "value";
  start: number;
  end: number;
}

interface Member {
  keyStart: number;
  keyEnd: number;
  value: ArrayPlan | ValuePlan;
}

type Plan = { kind: "object"; members: Member[] } | ArrayPlan | (ValuePlan & { pointer: "" });

/**
 * Walks the bytes once: depth outside strings, and (for a body parsed in pieces) where the members
 * of the top-level object and the elements of the arrays to be split begin and end. It checks the
 * punctuation between those pieces; `JSON.parse` checks the pieces.
 */
class Scanner {
  private depth = 0;
  private pos: number;
  /** the end of the last byte that was not white space */
  private lastEnd = -1;
  /** where the top-level value starts, and what it is */
  private top: "object" | "array" | "value" | undefined;
  private topStart = -1;
  private topEnd = -1;
  // the top-level object: members, and where in a member the scan is
  private readonly members: Member[] = [];
  private expect: "key" | "colon" | "value" | "comma" = "key";
  private keyStart = -1;
  private keyEnd = -1;
  private valueStart = -1;
  // the array whose elements are grouped: the top-level one (depth 1) or a member's (depth 2)
  private splitDepth = 0;
  private groups: Group[] = [];
  private elementStart = -1;
  private elementIndex = 0;
  private afterComma = false;
  private group: Group | undefined;

  /** where the string being read started, while its closing quote has not arrived */
  private stringStart = -1;
  /** how far a number or literal at the end of the bytes so far has been read */
  private scalarEnd = 0;

  constructor(
    private readonly bytes: Buffer,
    start: number,
    private readonly options: JsonBodyOptions,
    /** record the pieces (only for bodies parsed in pieces) */
    readonly pieces: boolean,
  ) {
    this.pos = start;
  }

  /**
   * Scans the bytes before `available` not scanned yet; `final` when no more will come. Tokens
   * are followed only at the depths that delimit pieces (up to 2, and none for a body parsed
   * whole); deeper, only brackets and strings count, which is what makes the scan cheap.
   */
  run(available: number, final: boolean): void {
    const b = this.bytes;
    const view = b.subarray(0, available); // indexOf must not look at bytes not yet received
    const shallow = this.pieces ? 2 : -1;
    let i = this.pos;
    while (i < available) {
      if (this.stringStart !== -1) {
        const end = this.stringEnd(view, this.stringStart, i);
        if (end === -1) {
          i = available; // the string goes on in bytes not here yet
          break;
        }
        const start = this.stringStart;
        this.stringStart = -1;
        if (this.depth <= shallow) this.piece(QUOTE, start, end);
        this.lastEnd = end;
        i = end;
        continue;
      }
      const c = b[i]!;
      if (c === QUOTE) {
        this.stringStart = i++;
        continue;
      }
      if (this.depth > shallow) {
        if (c === OPEN_OBJECT || c === OPEN_ARRAY) this.open(i);
        else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
          // unbalanced: JSON.parse names it when the body is parsed whole
          if (--this.depth < 0) {
            this.pos = b.length;
            return;
          }
          if (this.depth <= shallow) this.lastEnd = i + 1;
        }
        i++;
        continue;
      }
      if (isSpace(c)) {
        i++;
        continue;
      }
      let end = i + 1;
      if (!isPunctuation(c)) {
        // a number or a literal: one token up to the next space, punctuation or quote
        end = Math.max(end, this.scalarEnd);
        while (end < available && !isSpace(b[end]!) && !isPunctuation(b[end]!) && b[end] !== QUOTE)
          end++;
        if (end === available && !final) {
          this.scalarEnd = end; // it may go on: read it whole when more has come
          break;
        }
        this.scalarEnd = 0;
      }
      this.piece(c, i, end);
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) this.open(i);
      else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) this.depth--;
      this.lastEnd = end;
      i = end;
    }
    this.pos = i;
  }

  private open(i: number): void {
    if (++this.depth > this.options.maxDepth)
      throw new ProblemError(
        "json_too_deep",
        `arrays and objects nest more than ${this.options.maxDepth} deep at byte ${i} (\`${this.options.names.maxDepth}\`)`,
      );
  }

  /** The end (exclusive) of the string starting at `start`, searched from `from`; -1 if not yet. */
  private stringEnd(view: Buffer, start: number, from: number): number {
    let j = from;
    for (;;) {
      j = view.indexOf(QUOTE, j);
      if (j === -1) return -1;
      let k = j - 1;
      while (k > start && view[k] === BACKSLASH) k--;
      if ((j - 1 - k) % 2 === 0) return j + 1;
      j++;
    }
  }

  /** Records piece boundaries for the token `c` at `[i, end)`, seen at the current depth. */
  private piece(c: number, i: number, end: number): void {
    const d = this.depth;
    if (d === 0) {
      if (this.top !== undefined || (isPunctuation(c) && c !== OPEN_OBJECT && c !== OPEN_ARRAY))
        throw malformed(`unexpected \`${String.fromCharCode(c)}\` at byte ${i}`);
      this.topStart = i;
      if (c === OPEN_OBJECT) this.top = "object";
      else if (c === OPEN_ARRAY) {
        this.top = "array";
        this.startSplit(1);
      } else {
        this.top = "value";
        this.topEnd = end;
      }
      return;
    }
    if (d === this.splitDepth) this.element(c, i);
    else if (d === 1 && this.top === "object") this.member(c, i, end);
    if ((c === CLOSE_OBJECT || c === CLOSE_ARRAY) && d === 1) this.topEnd = end;
  }

  /** A token directly inside the top-level object. */
  private member(c: number, i: number, end: number): void {
    const unexpected = () =>
      malformed(`unexpected \`${String.fromCharCode(c)}\` at byte ${i} in the top-level object`);
    switch (this.expect) {
      case "key":
        if (c === CLOSE_OBJECT && this.members.length === 0 && this.keyStart === -1) return;
        if (c !== QUOTE) throw unexpected();
        this.keyStart = i;
        this.keyEnd = end;
        this.expect = "colon";
        return;
      case "colon":
        if (c !== COLON) throw unexpected();
        this.expect = "value";
        return;
      case "value":
        if (c === COMMA || c === CLOSE_OBJECT || c === COLON) throw unexpected();
        this.valueStart = i;
        this.expect = "comma";
        if (c === OPEN_ARRAY) this.startSplit(2);
        return;
      case "comma":
        if (c !== COMMA && c !== CLOSE_OBJECT) {
          // after an array split in groups nothing may follow; after another value, JSON.parse
          // of the value's bytes finds what does not belong
          if (this.splitDepth === 2) throw unexpected();
          return;
        }
        this.endMember();
        this.expect = "key";
        this.keyStart = -1;
        if (c === COMMA) this.keyStart = -2; // a key must follow
        return;
    }
  }

  private endMember(): void {
    const key = { keyStart: this.keyStart, keyEnd: this.keyEnd };
    this.checkSize(this.keyStart, this.keyEnd, () => "");
    if (this.splitDepth === 2) {
      this.members.push({ ...key, value: { kind: "array", groups: this.groups } });
      this.splitDepth = 0;
    } else {
      const start = this.valueStart;
      const end = this.lastEnd;
      this.checkSize(start, end, () => `/${escapePointer(this.key(key.keyStart, key.keyEnd))}`);
      this.members.push({ ...key, value: { kind: "value", start, end } });
    }
  }

  private startSplit(depth: number): void {
    this.splitDepth = depth;
    this.groups = [];
    this.group = undefined;
    this.elementStart = -1;
    this.elementIndex = 0;
    this.afterComma = false;
  }

  /** A token directly inside the array being split (its `[` is seen one level up). */
  private element(c: number, i: number): void {
    if (c === COMMA || c === CLOSE_ARRAY) {
      if (this.elementStart === -1) {
        if (c === CLOSE_ARRAY && !this.afterComma) {
          this.endSplit(); // []
          return;
        }
        throw malformed(`unexpected \`${String.fromCharCode(c)}\` at byte ${i} in an array`);
      }
      this.endElement();
      this.afterComma = c === COMMA;
      if (c === CLOSE_ARRAY) this.endSplit();
      return;
    }
    if (this.elementStart === -1) this.elementStart = i;
  }

  private endElement(): void {
    const start = this.elementStart;
    const end = this.lastEnd;
    const index = this.elementIndex++;
    this.checkSize(start, end, () => `${this.splitPointer()}/${index}`);
    const g = this.group;
    if (g !== undefined && end - g.start <= GROUP_BYTES) g.end = end;
    else {
      this.group = { start, end, first: index };
      this.groups.push(this.group);
    }
    this.elementStart = -1;
  }

  private endSplit(): void {
    if (this.splitDepth === 1) this.splitDepth = 0;
    // a member's array: the member ends at the next `,` or `}` of the top-level object
  }

  private splitPointer(): string {
    if (this.splitDepth === 1) return "";
    return `/${escapePointer(this.key(this.keyStart, this.keyEnd))}`;
  }

  private key(start: number, end: number): string {
    return JSON.parse(this.bytes.toString("utf8", start, end)) as string;
  }

  private checkSize(start: number, end: number, pointer: () => string): void {
    const size = end - start;
    if (size <= this.options.pieceBytes) return;
    const at = pointer();
    throw new ProblemError(
      "body_too_large",
      `\`${at || "(body)"}\` is ${size} bytes, over the limit of ${this.options.pieceBytes} bytes for one value of a large body (\`${this.options.names.pieceBytes}\`)`,
      [{ pointer: at, message: `at most ${this.options.pieceBytes} bytes` }],
    );
  }

  finish(): Plan {
    if (this.stringStart !== -1)
      throw malformed(`the string starting at byte ${this.stringStart} is not closed`);
    if (this.top === undefined) throw malformed("the body has no value");
    if (this.depth !== 0 || this.topEnd === -1)
      throw malformed(`the body ends inside an array or object (${this.depth} open)`);
    if (this.top === "object") {
      if (this.keyStart === -2 || this.expect !== "key")
        throw malformed("the top-level object ends after a `,` or a key");
      return { kind: "object", members: this.members };
    }
    if (this.top === "array") return { kind: "array", groups: this.groups };
    this.checkSize(this.topStart, this.topEnd, () => "");
    return { kind: "value", start: this.topStart, end: this.topEnd, pointer: "" };
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing in pieces

async function assemble(bytes: Buffer, plan: Plan, options: JsonBodyOptions): Promise<unknown> {
  let sliceStart = performance.now();
  const pace = async () => {
    if (performance.now() - sliceStart < options.sliceMs) return;
    await yieldToLoop();
    sliceStart = performance.now();
  };
  const parsePiece = (start: number, end: number, pointer: string): unknown => {
    const text = bytes.toString("utf8", start, end);
    const value = parseText(text, start);
    refuseForbiddenKeys(value, pointer, suspectKeys(text));
    return value;
  };
  const parseArray = async (groups: readonly Group[], pointer: string): Promise<unknown[]> => {
    const out: unknown[] = [];
    for (const g of groups) {
      const text = `[${bytes.toString("utf8", g.start, g.end)}]`;
      const part = parseText(text, g.start) as unknown[];
      const suspect = suspectKeys(text);
      for (let k = 0; k < part.length; k++) {
        refuseForbiddenKeys(part[k], `${pointer}/${g.first + k}`, suspect);
        out.push(part[k]);
      }
      await pace();
    }
    return out;
  };

  if (plan.kind === "value") return parsePiece(plan.start, plan.end, "");
  if (plan.kind === "array") return parseArray(plan.groups, "");
  const object: Record<string, unknown> = {};
  for (const m of plan.members) {
    const key = parseText(bytes.toString("utf8", m.keyStart, m.keyEnd), m.keyStart) as string;
    const pointer = `/${escapePointer(key)}`;
    const value =
      m.value.kind === "array"
        ? await parseArray(m.value.groups, pointer)
        : parsePiece(m.value.start, m.value.end, pointer);
    if (key === "__proto__") throw forbidden(pointer, "__proto__");
    if (key === "constructor" && hasPrototype(value))
      throw forbidden(`${pointer}/prototype`, "constructor");
    // a plain property whatever the key, as JSON.parse makes it (assignment could set a prototype)
    Object.defineProperty(object, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    await pace();
  }
  return object;
}

// ---------------------------------------------------------------------------------------------
// `__proto__` and `constructor.prototype`

/** The quoted key `__proto__` (also with \u escapes) followed by a colon: secure-json-parse's test. */
const SUSPECT_PROTO =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/;
const SUSPECT_CONSTRUCTOR =
  /"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/;

function hasPrototype(value: unknown): boolean {
  return value !== null && typeof value === "object" && Object.hasOwn(value, "prototype");
}

function forbidden(pointer: string, key: "__proto__" | "constructor"): ProblemError {
  const problem: ProblemDetail = {
    pointer,
    message:
      key === "__proto__"
        ? "the key `__proto__` is not accepted"
        : "a `constructor` object with a `prototype` key is not accepted",
  };
  return new ProblemError(
    "forbidden_key",
    `${key === "__proto__" ? "the key `__proto__`" : "a `prototype` key inside `constructor`"} (at \`${pointer}\`) is not accepted: it could change the prototype of objects built from the body`,
    [problem],
  );
}

interface Suspect {
  proto: boolean;
  ctor: boolean;
}

/**
 * Whether the text may have a `__proto__` or `constructor` key. Text without `\u` escapes (nearly
 * every body) is searched for the plain quoted names, which is much faster than the regexes.
 */
function suspectKeys(text: string): Suspect | undefined {
  const escapes = text.includes("\\u");
  const proto = (escapes || text.includes('"__proto__"')) && SUSPECT_PROTO.test(text);
  const ctor = (escapes || text.includes('"constructor"')) && SUSPECT_CONSTRUCTOR.test(text);
  return proto || ctor ? { proto, ctor } : undefined;
}

/**
 * Throws forbidden_key for the first `__proto__` key, or `constructor` holding `prototype`, in
 * document order. The walk runs only when the text may have such a key (`suspectKeys`).
 */
function refuseForbiddenKeys(value: unknown, prefix: string, suspect: Suspect | undefined): void {
  if (suspect === undefined) return;
  const proto = suspect.proto;
  interface Node {
    value: unknown;
    parent: Node | undefined;
    key: string;
  }
  const pointerOf = (node: Node, last: string): string => {
    const parts = [escapePointer(last)];
    for (let n: Node | undefined = node; n?.parent !== undefined; n = n.parent)
      parts.push(escapePointer(n.key));
    return `${prefix}/${parts.reverse().join("/")}`;
  };
  const stack: Node[] = [{ value, parent: undefined, key: "" }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const v = node.value;
    if (v === null || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--)
        stack.push({ value: v[i], parent: node, key: String(i) });
      continue;
    }
    if (proto && Object.hasOwn(v, "__proto__"))
      throw forbidden(pointerOf(node, "__proto__"), "__proto__");
    const object = v as Record<string, unknown>;
    if (Object.hasOwn(object, "constructor") && hasPrototype(object.constructor))
      throw forbidden(`${pointerOf(node, "constructor")}/prototype`, "constructor");
    const keys = Object.keys(object);
    for (let i = keys.length - 1; i >= 0; i--)
      stack.push({ value: object[keys[i]!], parent: node, key: keys[i]! });
  }
}

function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}
