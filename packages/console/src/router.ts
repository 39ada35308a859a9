import { useEffect, useState } from "preact/hooks";

// Routing by the address's fragment (`#/audit?decision=deny`, `#/audit/<id>`): the server serves
// one index.html at `/` and needs no fallback for client paths, the API's paths (/v1, /healthz,
// ...) can never collide with a page, and a search or an entry is a link an analyst can share.

export interface Route {
  /** the path segments after `#/`: `["audit"]`, `["audit", "<id>"]` */
  segments: string[];
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, "");
  const q = text.indexOf("?");
  const path = q === -1 ? text : text.slice(0, q);
  return {
    segments: path
      .split("/")
      .filter((s) => s !== "")
      .map((s) => decodeURIComponent(s)),
    params: new URLSearchParams(q === -1 ? "" : text.slice(q + 1)),
  };
}

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return parseHash(hash);
}

export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}
