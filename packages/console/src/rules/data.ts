import { useEffect, useState } from "preact/hooks";
import {
  describeError,
  type ExceptionView,
  type Hits,
  type RuleFiles,
  type RulesetStatus,
  rulesApi,
} from "../api.js";
import { hitsQuery, type RANGES } from "./model.js";

/** One request's state: loading, its answer, or why it failed in words. */
export type Loaded<T> =
  | { state: "loading" }
  | { state: "ok"; value: T }
  | { state: "error"; message: string };

function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [value, setValue] = useState<Loaded<T>>({ state: "loading" });
  useEffect(() => {
    let gone = false;
    setValue({ state: "loading" });
    load().then(
      (v) => !gone && setValue({ state: "ok", value: v }),
      (e: unknown) => !gone && setValue({ state: "error", message: describeError(e) }),
    );
    return () => {
      gone = true;
    };
  }, [key]);
  return value;
}

export interface RulesData {
  status: Loaded<RulesetStatus>;
  files: Loaded<RuleFiles>;
  hits: Loaded<Hits>;
  exceptions: Loaded<ExceptionView[]>;
  /** when the range was asked for (ms) */
  now: number;
}

/**
 * What the Rules pages read, each request on its own so one failing leaves the others shown. The
 * exceptions (another scope than the rules') are read only where they are shown.
 */
export function useRulesData(
  range: (typeof RANGES)[number],
  options: { exceptions: boolean } = { exceptions: true },
): RulesData {
  const [now] = useState(() => Date.now());
  const status = useLoad(rulesApi.status, "status");
  const files = useLoad(rulesApi.files, "files");
  const hits = useLoad(() => rulesApi.hits(hitsQuery(range, Date.now())), range.id);
  const exceptions = useLoad<ExceptionView[]>(
    () =>
      options.exceptions
        ? rulesApi.activeExceptions().then((a) => a.exceptions)
        : Promise.resolve([]),
    `exceptions:${options.exceptions}`,
  );
  return { status, files, hits, exceptions, now };
}

export function answerOf<T>(l: Loaded<T>): T | undefined {
  return l.state === "ok" ? l.value : undefined;
}
