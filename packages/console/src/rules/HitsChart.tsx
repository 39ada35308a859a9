import { useEffect, useRef, useState } from "preact/hooks";
import type { ChartData } from "./chart.js";

/**
 * The chart of one rule's hits, drawn by uPlot once its module has loaded. The same numbers are
 * in the table beside it (`HitsTable`), which is what a screen reader reads: the canvas is an
 * image whose label says so.
 */
export function HitsChart({ data, label }: { data: ChartData; label: string }) {
  const el = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const key = JSON.stringify([data.times[0], data.times.length, data.kinds, data.values]);
  useEffect(() => {
    let destroy: (() => void) | undefined;
    let gone = false;
    import("./chart.js")
      .then((m) => {
        if (!gone && el.current) destroy = m.drawChart(el.current, data);
      })
      .catch((e: unknown) => setFailed(String(e)));
    return () => {
      gone = true;
      destroy?.();
    };
  }, [key]);
  if (failed)
    return (
      <p class="notice error" role="alert">
        The chart could not be drawn ({failed}); the table below has the same numbers.
      </p>
    );
  return <div class="hits-chart" ref={el} role="img" aria-label={label} />;
}
