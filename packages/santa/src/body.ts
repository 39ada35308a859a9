// Request bodies as agents send them: compressed with zlib's deflate (Santa's default,
// `SyncClientContentEncoding`), gzip, or not at all. A body is inflated with a ceiling on what it
// may inflate to, so a small hostile body cannot become gigabytes (a "zip bomb").

import { promisify } from "node:util";
import { gunzip, inflate, inflateRaw } from "node:zlib";

const inflateAsync = promisify(inflate);
const inflateRawAsync = promisify(inflateRaw);
const gunzipAsync = promisify(gunzip);

export const CONTENT_ENCODINGS = ["identity", "deflate", "gzip"] as const;

/** Why a body could not be read: `unsupported` encodings, `too_large` once inflated, `corrupt` data. */
export class BodyEncodingError extends Error {
  override name = "BodyEncodingError";
  constructor(
    message: string,
    readonly reason: "unsupported" | "too_large" | "corrupt",
  ) {
    super(message);
  }
}

/**
 * The body's bytes as sent before compression. `maxBytes` bounds the inflated size. `deflate` is
 * read as zlib data (what Santa sends, RFC 1950), or as raw deflate data (RFC 1951) when it has
 * no zlib header, as some HTTP clients send it.
 */
export async function decodeBody(
  body: Buffer,
  contentEncoding: string | undefined,
  maxBytes: number,
): Promise<Buffer> {
  const encoding = (contentEncoding ?? "identity").trim().toLowerCase() || "identity";
  if (encoding === "identity") return body;
  const options = { maxOutputLength: maxBytes };
  try {
    switch (encoding) {
      case "deflate":
        return hasZlibHeader(body)
          ? await inflateAsync(body, options)
          : await inflateRawAsync(body, options);
      case "gzip":
      case "x-gzip":
        return await gunzipAsync(body, options);
      default:
        throw new BodyEncodingError(
          `content encoding \`${shorten(encoding)}\` is not accepted: send \`deflate\`, \`gzip\` or none`,
          "unsupported",
        );
    }
  } catch (error) {
    if (error instanceof BodyEncodingError) throw error;
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
      throw new BodyEncodingError(`the body inflates to more than ${maxBytes} bytes`, "too_large");
    throw new BodyEncodingError(
      `the body is not valid ${encoding} data: ${(error as Error).message}`,
      "corrupt",
    );
  }
}

/** RFC 1950: CM 8 in the low nibble of CMF, and (CMF*256 + FLG) a multiple of 31. */
function hasZlibHeader(body: Buffer): boolean {
  return body.length >= 2 && (body[0]! & 0x0f) === 8 && ((body[0]! << 8) | body[1]!) % 31 === 0;
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
