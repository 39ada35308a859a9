// The bare routes the Santa benchmark measures Clearance's against (bench/server/santa.js), served
// by serve.js (`{"kind":"santa-bare","rules":100000}`): the same requests as Santa sends them
// (JSON, deflate-compressed), read as Clearance reads them (inflated with a ceiling, then parsed),
// with no token check, no database, no decision, no metrics.
//
//   POST /<variant>/<per>/preflight/<machine>     a constant preflight answer (a clean sync)
//   POST /<variant>/<per>/ruledownload/<machine>  page `cursor` of the group's rules, `per` a page
//   POST /<variant>/<per>/postflight/<machine>    `{}`
//   POST /<variant>/<per>/eventupload/<machine>   `{}` once the body is inflated and parsed
//
// variant `bare` serialises the page's rule objects (held in memory, in the order and shape
// Clearance writes them) with `JSON.stringify`, as any server must; variant `static` answers the
// page's text made once: nothing but HTTP. Both answer the bytes Clearance answers (santa.js
// checks it: the same SHA-256 over a whole download).

import { promisify } from "node:util";
import { inflate } from "node:zlib";
import Fastify from "fastify";
import { ruleChange, ruleJson } from "./santa-data.js";

const inflateAsync = promisify(inflate);
/** Clearance's default `santa.bodyLimit`: the ceiling a body may inflate to. */
const BODY_LIMIT = 8 * 1024 * 1024;

export function santaBareApp(spec) {
  const total = spec.rules;
  const rules = Array.from({ length: total }, (_, i) => ruleJson(ruleChange(i)));
  /** per page size: the text of every page, made on the first download */
  const pages = new Map();
  const page = (after, per) => {
    const end = Math.min(after + per, total);
    // Clearance's cursor is the last rule's sequence number, its rules numbered from 1
    return { rules: rules.slice(after, end), cursor: end < total ? String(end) : "" };
  };
  const staticPage = (after, per) => {
    let texts = pages.get(per);
    if (!texts) {
      texts = new Map();
      for (let at = 0; at < total; at += per) texts.set(at, JSON.stringify(page(at, per)));
      pages.set(per, texts);
    }
    return texts.get(after);
  };

  const app = Fastify({ logger: false });
  app.addContentTypeParser(
    "application/json",
    { parseAs: "buffer", bodyLimit: BODY_LIMIT },
    (_request, body, done) => done(null, body),
  );
  /** The request's message, as Clearance reads one: inflated under the ceiling, then parsed. */
  const message = async (request) => {
    const raw = request.body;
    const bytes =
      request.headers["content-encoding"] === "deflate"
        ? await inflateAsync(raw, { maxOutputLength: BODY_LIMIT })
        : raw;
    const value = JSON.parse(bytes.toString("utf8"));
    if (typeof value !== "object" || value === null) throw new Error("not a message");
    return value;
  };
  app.post("/:variant/:per/:stage/:machineId", async (request, reply) => {
    const { variant, stage } = request.params;
    const per = Number(request.params.per);
    const body = await message(request);
    reply.type("application/json");
    switch (stage) {
      case "preflight":
        return {
          client_mode: "LOCKDOWN",
          sync_type: "CLEAN",
          batch_size: 500,
          full_sync_interval: 600,
          enable_all_event_upload: false,
        };
      case "ruledownload": {
        const after = body.cursor ? Number(body.cursor) : 0;
        if (!(after >= 0 && after < total && after % per === 0)) throw new Error("bad cursor");
        return variant === "static" ? staticPage(after, per) : page(after, per);
      }
      case "eventupload":
        if (!Array.isArray(body.events)) throw new Error("no events");
        return {};
      case "postflight":
        return {};
      default:
        throw new Error(`no stage \`${stage}\``);
    }
  });
  return app;
}
