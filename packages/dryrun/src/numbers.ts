/** Number formatting shared by the dry-run's reports (terminal, Markdown, HTML). */

/** `1234567` -> `1,234,567`, independent of the locale. */
export function count(n: number): string {
  const sign = n < 0 ? "-" : "";
  return sign + String(Math.abs(Math.round(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** `+1,584`, `−724`, or `zero` for no change. */
export function delta(n: number, zero = "0"): string {
  return n > 0 ? `+${count(n)}` : n < 0 ? `−${count(-n)}` : zero;
}

/** A share of a whole: `14%`, `4.6%`, `<0.1%`. */
export function percent(part: number, whole: number): string {
  if (whole <= 0) return "0%";
  const p = (100 * part) / whole;
  if (p > 0 && p < 0.1) return "<0.1%";
  return `${p.toFixed(p >= 10 || Number.isInteger(p) ? 0 : 1)}%`;
}

export function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

/** `850 ms`, `3.2 s` */
export function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
