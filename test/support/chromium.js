// How every real-browser run starts Debian's Chromium (playwright-core ships no browser of its
// own): the browser tests (browser.ts) and the console benchmark (bench/console/budgets.js).

export const CHROMIUM = "/usr/bin/chromium";

/** Headless, no sandbox (containers), and nothing that phones home or updates during a run. */
export const CHROMIUM_ARGS = Object.freeze([
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
]);
