// docs/siem.md shows one rendered event per format; each must be what the formatter renders for
// the first sample event, so the page cannot drift from the code.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatter, SIEM_FORMATS, sampleEvents } from "../src/index.js";

const page = readFileSync(new URL("../../../docs/siem.md", import.meta.url), "utf8");
const [first] = sampleEvents("2026-12-01T10:00:00.000Z");

describe("docs/siem.md samples", () => {
  it.each(SIEM_FORMATS.map((name) => [name]))("%s sample is the formatter's output", (name) => {
    const block = new RegExp(`\`\`\`\\w+ ${name}-sample\\n(.*)\\n\`\`\``).exec(page);
    expect(block, `no \`\`\`<lang> ${name}-sample block in docs/siem.md`).not.toBeNull();
    expect(block![1]).toBe(formatter(name).render(first!));
  });
});
