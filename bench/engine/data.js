// The engine benchmark's data: the results come from the shared deterministic generator in
// @clearance/testdata (also behind `pnpm gen:history`); same (count, seed) -> same results, byte for
// byte. The known-bad hash list is the benchmark's own.

import { mulberry32, SANCTIONED_SHA256 } from "@clearance/testdata";

export {
  generateResults,
  mulberry32,
  NOW,
  SANCTIONED_SHA256,
} from "@clearance/testdata";

/**
 * The known-bad hash list: `size` hashes, including the hashes of about 4% of `results`
 * (mostly malicious ones, a few clean-looking), the rest random.
 */
export function knownBadHashes(results, size = 10_000, seed = 7) {
  const rnd = mulberry32(seed);
  const list = [];
  for (const r of results) {
    const p = r.verdict === "high_risk" ? 0.1 : 0.015;
    if (rnd() < p && r.sha256 !== SANCTIONED_SHA256) list.push(r.sha256);
  }
  while (list.length < size) {
    let s = "";
    for (let i = 0; i < 64; i++) s += "0123456789abcdef"[Math.floor(rnd() * 16)];
    list.push(s);
  }
  // Deterministic shuffle so the matching hashes are spread through the file
  for (let k = list.length - 1; k > 0; k--) {
    const j = Math.floor(rnd() * (k + 1));
    [list[k], list[j]] = [list[j], list[k]];
  }
  return list;
}
