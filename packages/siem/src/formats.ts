// The formatter for a sink's configured format name.

import { cefFormatter } from "./cef.js";
import { ecsFormatter } from "./ecs.js";
import { type Formatter, SIEM_FORMATS, type SiemFormat } from "./format.js";
import { ocsfFormatter } from "./ocsf.js";

const FORMATTERS: Readonly<Record<SiemFormat, Formatter>> = Object.freeze({
  ocsf: ocsfFormatter,
  ecs: ecsFormatter,
  cef: cefFormatter,
});

export function formatter(name: SiemFormat): Formatter {
  // Callers validate options against SIEM_FORMATS; a name from elsewhere (JSON, a CLI) still gets
  // a clear error instead of an undefined formatter.
  if (!Object.hasOwn(FORMATTERS, name)) {
    throw new Error(
      `unknown SIEM format ${JSON.stringify(name)}: expected one of ${SIEM_FORMATS.join(", ")}`,
    );
  }
  return FORMATTERS[name];
}
