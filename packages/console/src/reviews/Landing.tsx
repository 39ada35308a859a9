import { useEffect } from "preact/hooks";
import { reviewsApi } from "../api.js";
import { landingPage } from "./logic.js";

/**
 * `#/`: the review queue when cases are waiting for someone, the audit log otherwise. The address
 * is replaced, not pushed, so Back does not return to this choice.
 */
export function Landing() {
  useEffect(() => {
    let live = true;
    reviewsApi.cases("/v1/reviews?limit=1").then(
      (page) => live && location.replace(`#/${landingPage(page.cases.length)}`),
      // reviews turned off, or no access to them: the audit log says what else is wrong
      () => live && location.replace("#/audit"),
    );
    return () => {
      live = false;
    };
  }, []);
  return <p role="status">Looking for open review cases…</p>;
}
