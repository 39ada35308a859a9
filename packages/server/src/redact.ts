/**
 * Removes the values at JSON Pointers (`/result/fileName`, `/context/user`) from a snapshot before it
 * is stored. A pointer that does not resolve is ignored: redaction is a filter, not a schema check.
 * Works on a copy; the input is never changed.
 */
export function redact<T>(value: T, pointers: readonly string[]): T {
  if (pointers.length === 0) return value;
  const copy = structuredClone(value);
  for (const pointer of pointers) {
    const parts = pointer
      .split("/")
      .slice(1)
      .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
    let node: unknown = copy;
    for (let i = 0; i < parts.length - 1 && node !== null && typeof node === "object"; i++) {
      node = (node as Record<string, unknown>)[parts[i]!];
    }
    const last = parts[parts.length - 1]!;
    if (node === null || typeof node !== "object") continue;
    if (Array.isArray(node)) {
      const index = Number(last);
      if (Number.isInteger(index) && index >= 0 && index < node.length) node.splice(index, 1);
    } else if (Object.hasOwn(node, last)) {
      delete (node as Record<string, unknown>)[last];
    }
  }
  return copy;
}
