import aws4 from 'aws4';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MediaStorageError, requireMediaStorageKey, type MediaStorage } from '../../application/ports/media-storage.js';
import type { MediaStorageLocation } from './storage-url.js';

/**
 * Media bytes in S3 or an S3-compatible object store (MEDIA_STORAGE_URL
 * `s3://…`): PUT, GET and DELETE of objects, each request signed with AWS
 * Signature Version 4 over its exact payload hash.
 *
 * Signing is done by `aws4`, a small dependency-free signer that has been
 * the request signer of the Node ecosystem for a decade, rather than
 * `@aws-sdk/client-s3`: three object calls do not need the SDK's hundred
 * packages, its retry and credential chains, or its stricter endpoint rules
 * (the self-hosted stores this must also reach).
 */
export type S3Location = Extract<MediaStorageLocation, { kind: 's3' }>;

/** How long one request may take before it counts as failed. */
const TIMEOUT_MS = 30_000;

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export class S3MediaStorage implements MediaStorage {
  readonly description: string;

  constructor(
    private readonly location: S3Location,
    private readonly options: { timeoutMs?: number } = {},
  ) {
    this.description = `s3:${location.bucket}@${location.host}${location.port ? `:${location.port}` : ''}`;
  }

  async put(key: string, bytes: Buffer, contentType: string): Promise<void> {
    const answer = await this.send('PUT', key, bytes, { 'Content-Type': contentType });
    if (answer.status !== 200) throw failure('PUT', key, answer);
  }

  async get(key: string): Promise<Buffer | null> {
    const answer = await this.send('GET', key);
    if (answer.status === 404 && errorCode(answer) !== 'NoSuchBucket') return null;
    if (answer.status !== 200) throw failure('GET', key, answer);
    return answer.body;
  }

  async delete(key: string): Promise<void> {
    const answer = await this.send('DELETE', key);
    // S3 answers 204 whether or not the object was there; some stores answer 404 for a missing one
    if (answer.status === 204 || answer.status === 200 || (answer.status === 404 && errorCode(answer) === 'NoSuchKey')) return;
    throw failure('DELETE', key, answer);
  }

  private pathOf(key: string): string {
    const { bucket, prefix, pathStyle } = this.location;
    const full = prefix === '' ? requireMediaStorageKey(key) : `${prefix}/${requireMediaStorageKey(key)}`;
    // the key's characters need no escaping (media-storage.ts): the path is the same on the wire and in the signature
    return pathStyle ? `/${bucket}/${full}` : `/${full}`;
  }

  private send(method: 'PUT' | 'GET' | 'DELETE', key: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
    const { host, port, tls, bucket, pathStyle, region, accessKeyId, secretAccessKey } = this.location;
    const hostname = pathStyle ? host : `${bucket}.${host}`;
    const defaultPort = tls ? 443 : 80;
    const signed = aws4.sign(
      {
        service: 's3',
        region,
        method,
        host: hostname,
        path: this.pathOf(key),
        headers: { ...headers, Host: port && port !== defaultPort ? `${hostname}:${port}` : hostname, ...(body ? {} : { 'Content-Length': '0' }) },
        ...(body ? { body } : {}),
      },
      { accessKeyId, secretAccessKey },
    );
    const request = tls ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve, reject) => {
      const req = request(
        {
          host: hostname,
          port: port ?? defaultPort,
          method,
          path: signed.path,
          headers: signed.headers as Record<string, string>,
          timeout: this.options.timeoutMs ?? TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', (error) => reject(new MediaStorageError(`${method} ${key}: ${error.message}`)));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs ?? TIMEOUT_MS} ms`)));
      req.on('error', (error) => reject(new MediaStorageError(`${method} ${key} at ${this.description}: ${error.message}`)));
      req.end(body);
    });
  }
}

/** The `<Code>` of an S3 XML error body, if it has one. */
function errorCode(answer: Answer): string | null {
  return /<Code>([^<]{1,100})<\/Code>/.exec(answer.body.toString('utf8'))?.[1] ?? null;
}

function failure(method: string, key: string, answer: Answer): MediaStorageError {
  const code = errorCode(answer);
  const message = /<Message>([^<]{1,300})<\/Message>/.exec(answer.body.toString('utf8'))?.[1];
  return new MediaStorageError(`${method} ${key}: ${answer.status}${code ? ` ${code}` : ''}${message ? ` (${message})` : ''}`, code);
}
