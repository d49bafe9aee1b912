import type { IncomingMessage } from 'node:http';

export class RawBodyTooLargeError extends Error {
  override readonly name = 'RawBodyTooLargeError';
}

/**
 * The request body exactly as received (UTF-8 text), for signature checks.
 * Used by routes that the global JSON parser leaves unread
 * (RAW_BODY_PATH_PREFIXES in adapters/http/body.ts).
 */
export async function readRawBody(req: IncomingMessage, limitBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw new RawBodyTooLargeError(`body larger than ${limitBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buffer.length;
    if (size > limitBytes) throw new RawBodyTooLargeError(`body larger than ${limitBytes} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
