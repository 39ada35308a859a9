// Which refusals the deliverer waits out and which it sets aside: a receiver that refuses the sink
// (credentials, a wrong URL) must not turn every event into a dead letter.
import { describe, expect, it } from "vitest";
import { DeliveryError } from "../../src/index.js";
import { statusRefusal } from "../../src/transports/http-client.js";

describe("refusal classes", () => {
  it.each([
    [400, false, false],
    [401, false, true],
    [403, false, true],
    [404, false, true],
    [408, true, false],
    [413, false, false],
    [415, false, true],
    [422, false, false],
    [429, true, false],
    [500, true, false],
    [503, true, false],
  ])("HTTP %i: retryable %s, sink-wide %s", (status, retryable, sinkWide) => {
    expect(statusRefusal(status)).toEqual({ retryable, sinkWide });
  });

  it("a retryable error is never sink-wide", () => {
    expect(new DeliveryError("x", true, { sinkWide: true }).sinkWide).toBe(false);
    expect(new DeliveryError("x", false, { sinkWide: true }).sinkWide).toBe(true);
    expect(new DeliveryError("x", false).sinkWide).toBe(false);
  });
});
