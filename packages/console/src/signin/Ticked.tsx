/**
 * The server's messages put names and values in backticks (docs/diagnostics.md): shown as code,
 * each piece a text node, so a name from a claim or a key is never markup.
 */
export function Ticked({ text }: { text: string }) {
  const parts = text.split("`");
  // an odd number of backticks: shown as they are
  if (parts.length % 2 === 0) return <>{text}</>;
  return <>{parts.map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part))}</>;
}
