import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySigV4, type SigV4Refusal } from './sigv4.js';

/**
 * An S3-compatible object store on node:http, for tests and local runs of
 * MEDIA_STORAGE_URL `s3://…`: path-style PUT, GET, HEAD and DELETE of
 * objects in the buckets it was started with, kept in memory. Every request
 * must carry a valid AWS Signature Version 4 (sigv4.ts) by one of its keys;
 * refusals use S3's status codes and XML error bodies (AccessDenied,
 * SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed,
 * XAmzContentSHA256Mismatch, NoSuchBucket, NoSuchKey, …).
 */

export interface StoredObject {
  bytes: Buffer;
  contentType: string;
  etag: string;
  lastModified: Date;
}

export interface ObjectRequestRecord {
  method: string;
  path: string;
  status: number;
  /** the S3 error code when refused */
  code: string | null;
}

export interface ObjectStorageSandbox {
  /** http://127.0.0.1:port */
  url: string;
  host: string;
  port: number;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** bucket → key → object */
  buckets: Map<string, Map<string, StoredObject>>;
  requests: ObjectRequestRecord[];
  /** MEDIA_STORAGE_URL for a bucket of this sandbox (path style, no TLS) */
  storageUrl(bucket: string, prefix?: string): string;
  stop(): Promise<void>;
}

export interface ObjectStorageOptions {
  host?: string;
  port?: number;
  region?: string;
  buckets?: readonly string[];
  accessKeyId?: string;
  secretAccessKey?: string;
  /** largest object taken (S3's single PUT: 5 GiB); larger: 400 EntityTooLarge */
  maxObjectBytes?: number;
  now?: () => Date;
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export async function startObjectStorage(options: ObjectStorageOptions = {}): Promise<ObjectStorageSandbox> {
  const region = options.region ?? 'us-east-1';
  const accessKeyId = options.accessKeyId ?? `AKSANDBOX${randomBytes(6).toString('hex').toUpperCase()}`;
  const secretAccessKey = options.secretAccessKey ?? randomBytes(24).toString('base64url');
  const credentials = new Map([[accessKeyId, secretAccessKey]]);
  const maxObjectBytes = options.maxObjectBytes ?? 100 * 1024 * 1024;
  const buckets = new Map<string, Map<string, StoredObject>>((options.buckets ?? ['media']).map((b) => [b, new Map()]));
  const requests: ObjectRequestRecord[] = [];

  function refuse(res: ServerResponse, req: IncomingMessage, resource: string, refusal: SigV4Refusal): void {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    requests.push({ method: req.method ?? '', path: resource, status: refusal.status, code: refusal.code });
    res.statusCode = refusal.status;
    res.setHeader('x-amz-request-id', requestId);
    if (req.method === 'HEAD') return void res.end();
    res.setHeader('Content-Type', 'application/xml');
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${xmlEscape(refusal.message)}</Message>` +
        `<Resource>${xmlEscape(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`,
    );
  }

  async function readBody(req: IncomingMessage): Promise<Buffer | null> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxObjectBytes) return null;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    const body = await readBody(req);
    if (body === null) return refuse(res, req, path, { status: 400, code: 'EntityTooLarge', message: 'Your proposed upload exceeds the maximum allowed size' });
    const refusal = verifySigV4({ method: req.method ?? '', url, headers: req.headers, body }, { credentials, region, now: options.now });
    if (refusal) return refuse(res, req, path, refusal);

    const [bucketName = '', ...keyParts] = path.replace(/^\//, '').split('/');
    let key: string;
    try {
      key = keyParts.map(decodeURIComponent).join('/');
    } catch {
      return refuse(res, req, path, { status: 400, code: 'InvalidURI', message: "Couldn't parse the specified URI." });
    }
    const bucket = buckets.get(bucketName);
    if (!bucket) return refuse(res, req, path, { status: 404, code: 'NoSuchBucket', message: 'The specified bucket does not exist' });
    if (key === '') return refuse(res, req, path, { status: 501, code: 'NotImplemented', message: 'Only object requests are implemented here' });

    const done = (status: number) => {
      requests.push({ method: req.method ?? '', path, status, code: null });
      res.statusCode = status;
    };
    switch (req.method) {
      case 'PUT': {
        const etag = `"${createHash('md5').update(body).digest('hex')}"`;
        bucket.set(key, { bytes: body, contentType: req.headers['content-type'] ?? 'binary/octet-stream', etag, lastModified: new Date() });
        done(200);
        res.setHeader('ETag', etag);
        return void res.end();
      }
      case 'GET':
      case 'HEAD': {
        const object = bucket.get(key);
        if (!object) return refuse(res, req, path, { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.' });
        done(200);
        res.setHeader('Content-Type', object.contentType);
        res.setHeader('Content-Length', object.bytes.length);
        res.setHeader('ETag', object.etag);
        res.setHeader('Last-Modified', object.lastModified.toUTCString());
        return void res.end(req.method === 'GET' ? object.bytes : undefined);
      }
      case 'DELETE':
        bucket.delete(key);
        done(204);
        return void res.end();
      default:
        return refuse(res, req, path, { status: 405, code: 'MethodNotAllowed', message: 'The specified method is not allowed against this resource.' });
    }
  }

  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      if (!res.headersSent) refuse(res, req, req.url ?? '/', { status: 500, code: 'InternalError', message: String((error as Error).message) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    host: address,
    port,
    region,
    accessKeyId,
    secretAccessKey,
    buckets,
    requests,
    storageUrl: (bucket, prefix) =>
      `s3://${encodeURIComponent(accessKeyId)}:${encodeURIComponent(secretAccessKey)}@${address}:${port}/${bucket}${prefix ? `/${prefix}` : ''}?region=${region}&path_style=true&tls=false`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
