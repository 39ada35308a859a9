// The hits chart, with uPlot: loaded by dynamic import() from HitsChart.tsx, so it and its CSS
// (a file Vite emits and links, never an inline <style>: the CSP has no 'unsafe-inline') are
// fetched only on a rule's page, not with the console's main script.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { HitKind } from "../api.js";
import { SERIES } from "./model.js";

// Series differ by dash and width as well as colour, and the legend names each in words. Matched
// is a wide pale line drawn first: a deciding rule's decisions often equal its matches, and the
// decision's line must stay visible on top of it.
const LOOK: Record<HitKind, { stroke: string; width: number; dash?: number[] }> = {
  deny: { stroke: "#a3231a", width: 2 },
  review: { stroke: "#8a5a00", width: 2, dash: [8, 4] },
  allow: { stroke: "#17663a", width: 2, dash: [2, 3] },
  matched: { stroke: "rgba(31, 95, 191, 0.35)", width: 7 },
  monitored: { stroke: "#6b3fa0", width: 1.5, dash: [12, 3, 2, 3] },
  disagreements: { stroke: "#444c56", width: 1.5, dash: [4, 4] },
};

export interface ChartData {
  times: number[];
  values: Record<HitKind, number[]>;
  /** "per hour", "per 6 hours": the y axis' unit */
  per: string;
  /** only the series to draw (a rule that is never monitored has no monitor line) */
  kinds: readonly HitKind[];
}

/** Draws the chart into `el`, as wide as `el`; returns what removes it. */
export function drawChart(el: HTMLElement, data: ChartData): () => void {
  const shown = SERIES.filter((s) => data.kinds.includes(s.kind));
  const utc = (ts: number) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");
  const chart = new uPlot(
    {
      width: Math.max(320, el.clientWidth),
      height: 280,
      tzDate: utc,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, max)] } },
      series: [
        { label: "Time (UTC)" },
        ...shown.map((s) => ({
          label: s.label,
          ...LOOK[s.kind],
          points: { show: true, size: 5 },
        })),
      ],
      axes: [
        {
          label: "Time (UTC)",
          stroke: "#1c2430",
          space: 70,
          size: 56,
          // 24-hour UTC times, the date under each: the console writes every time so
          values: (_u, ticks) =>
            ticks.map((t) => {
              const d = new Date(t * 1000).toISOString();
              return `${d.slice(11, 16)}\n${d.slice(5, 10)}`;
            }),
        },
        {
          label: `Decisions ${data.per}`,
          stroke: "#1c2430",
          // counts are whole numbers: no 0.5 ticks
          incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
          values: (_u, ticks) => ticks.map((t) => String(t)),
        },
      ],
      // the legend names the lines; the numbers are in the table beside the chart
      legend: { show: true, live: false },
    },
    [data.times, ...shown.map((s) => data.values[s.kind])],
    el,
  );
  return () => chart.destroy();
}
