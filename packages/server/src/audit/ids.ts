import { randomBytes } from "node:crypto";

let lastMs = 0;
const STEP_BACK_MS = 1_000;
let counter = 0;
// random bytes are drawn in blocks: one system call per 512 ids rather than one per id
const POOL_IDS = 512;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function random16(): Buffer {
  if (poolOffset + 16 > pool.length) {
    pool = randomBytes(16 * POOL_IDS);
    poolOffset = 0;
  }
  const b = Buffer.from(pool.subarray(poolOffset, poolOffset + 16));
  poolOffset += 16;
  return b;
}

/** The smallest UUIDv7 of millisecond `ms`: ids from `ms` on sort at or after it. */
export function idFloor(ms: number): string {
  const h = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0").slice(-12);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-7000-8000-000000000000`;
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter that keeps ids made in the
 * same millisecond in order, then random bits. Its text sorts by time, so `ORDER BY id` is time order
 * across replicas (to the millisecond) and a cursor is simply the last id seen.
 */
export function newId(now = Date.now()): string {
  // a clock stepped back by more than a second (NTP, or a test's injected time) starts over from
  // it: an id must carry its entry's time (the log refuses one that does not), which matters more
  // than order across the step
  if (now <= lastMs && lastMs - now < STEP_BACK_MS) {
    counter++;
    if (counter > 0xfff) {
      // more than 4096 ids in one millisecond: borrow the next millisecond rather than repeat
      lastMs++;
      counter = 0;
    }
  } else {
    lastMs = now;
    counter = 0;
  }
  return format(lastMs, counter);
}

/**
 * A UUIDv7 for millisecond `ms`, outside the monotonic sequence of `newId`: for records made at
 * another time (imports, tests). Random bits fill the counter field.
 */
export function idAt(ms: number): string {
  return format(Math.max(0, Math.floor(ms)), undefined);
}

/** UUIDv7 text of millisecond `ms`; the 12-bit counter field is `counter`, or random bits. */
function format(ms: number, counter: number | undefined): string {
  const b = random16();
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  if (counter === undefined) b[6] = 0x70 | (b[6]! & 0x0f);
  else {
    b[6] = 0x70 | (counter >>> 8);
    b[7] = counter & 0xff;
  }
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The millisecond a UUIDv7 was made in. */
export function idTime(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

export const ID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";
