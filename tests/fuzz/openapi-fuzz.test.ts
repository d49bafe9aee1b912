import { expect } from 'chai';
import fc from 'fast-check';
import { generateKeyPairSync } from 'node:crypto';
import type { Container } from 'inversify';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/port.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig } from '../setup/test-env.js';
import { operationsOf, resolve, type Schema } from '../support/openapi-walk.js';
import { signedIn } from '../support/signed-in.js';

/**
 * A black-box fuzz of every operation in the served OpenAPI document: path
 * ids, query parameters and JSON bodies drawn from each operation's own
 * schemas, mutated into wrong types, NUL bytes, lone surrogates, huge numbers
 * and strings, deep nesting and junk ids — under a fixed seed and budget
 * (FUZZ_SEED, FUZZ_RUNS per operation), so a failure replays exactly.
 *
 * Every answer must be below 500; every refusal must be the error envelope;
 * a refused request must have appended no event. The payment callbacks are
 * left out: they answer the providers in the providers' own formats (their
 * own tests cover forged and malformed notifications), and so are the SMS
 * provider's callbacks.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 424242);
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);

// text no store can keep, and text every parser trips on
const NASTY_STRINGS = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '',
  ' ',
  '../../etc/passwd',
  '%00',
  '<script>alert(1)</script>',
  "'; DROP TABLE users;--",
  '𝌆'.repeat(50),
  'x'.repeat(70_000),
  '=HYPERLINK("x")',
  '\r\n\t',
];
const NASTY_NUMBERS = [-1, 0, 1e308, -1e308, 2 ** 53 + 1, 1.5, Number.MAX_SAFE_INTEGER, -0];

function deepNest(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, {}, [], ...NASTY_NUMBERS, ...NASTY_STRINGS),
  fc.constant(deepNest(2_000)),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 5 }),
);

/** A value that fits the schema as far as this generator understands it. */
function fitting(raw: Schema | undefined, doc: Schema, depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(raw, doc);
  const variants = s.anyOf ?? s.oneOf;
  if (Array.isArray(variants) && variants.length > 0) return fc.oneof(...variants.map((v: Schema) => fitting(v, doc, depth + 1)));
  if (Array.isArray(s.allOf) && s.allOf.length > 0) return fitting(Object.assign({}, ...s.allOf.map((p: Schema) => resolve(p, doc))), doc, depth + 1);
  if (Array.isArray(s.enum) && s.enum.length > 0) return fc.constantFrom(...s.enum);
  if (s.const !== undefined) return fc.constant(s.const);
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== 'null') : s.type;
  switch (type) {
    case 'string':
      if (s.format === 'uuid') return fc.uuid();
      if (s.format === 'email') return fc.emailAddress();
      if (s.format === 'uri') return fc.webUrl();
      if (s.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      return fc.string({ minLength: Math.min(s.minLength ?? 0, 64), maxLength: Math.min(s.maxLength ?? 32, 64) });
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? -1000, -1e9), max: Math.min(s.maximum ?? 1000, 1e9) });
    case 'number':
      return fc.double({ min: s.minimum ?? -1000, max: s.maximum ?? 1000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 4 ? fc.constant([]) : fc.array(fitting(s.items, doc, depth + 1), { maxLength: 3 });
    case 'object': {
      if (depth > 4) return fc.constant({});
      const properties: Record<string, Schema> = s.properties ?? {};
      const required = new Set<string>(s.required ?? []);
      const entries = Object.entries(properties).map(
        ([key, value]) => [key, required.has(key) ? fitting(value, doc, depth + 1) : fc.option(fitting(value, doc, depth + 1), { nil: undefined })] as const,
      );
      return fc.record(Object.fromEntries(entries)).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
    }
    default:
      return junk;
  }
}

/** Mostly-valid values with one part broken, or junk outright. */
function mutated(schema: Schema | undefined, doc: Schema): fc.Arbitrary<unknown> {
  const valid = fitting(schema, doc);
  const brokenField = valid.chain((v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.keys(v).length === 0) return junk;
    const keys = Object.keys(v);
    return fc.tuple(fc.constantFrom(...keys), junk).map(([key, bad]) => ({ ...(v as object), [key]: bad }));
  });
  // a value that passes the schema but holds text no store keeps: the case schemas cannot catch
  const poisoned = valid.chain((v) => fc.constantFrom('\u0000', '\ud800', '\udfff').map((bad) => poison(v, bad)));
  const extraField = valid.chain((v) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? junk.map((bad) => ({ ...(v as object), [`${'x\u0000'.slice(0, 1)}extra`]: bad })) : junk,
  );
  return fc.oneof(
    { weight: 2, arbitrary: valid },
    { weight: 3, arbitrary: poisoned },
    { weight: 4, arbitrary: brokenField },
    { weight: 1, arbitrary: extraField },
    { weight: 2, arbitrary: junk },
  );
}

/** `value` with `bad` spliced into the middle of every string in it (keys stay). */
function poison(value: unknown, bad: string): unknown {
  if (typeof value === 'string') return value.length > 1 ? value.slice(0, 1) + bad + value.slice(2) : `${value}${bad}`;
  if (Array.isArray(value)) return value.map((v) => poison(v, bad));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, poison(v, bad)]));
  return value;
}

/** A path segment or query value as text: junk ids, nasty strings, or what the schema wants. */
function text(schema: Schema | undefined, doc: Schema): fc.Arbitrary<string> {
  return fc.oneof(
    fitting(schema, doc).map((v) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))),
    fitting(schema, doc).map((v) => `${typeof v === 'string' ? v.slice(0, 8) : String(v)}\u0000`),
    fc.constantFrom(...NASTY_STRINGS.map((s) => s.slice(0, 2_000)), '9'.repeat(40), '-1', 'null', 'undefined', '[]', '{}'),
    fc.string({ unit: 'binary', maxLength: 30 }),
  );
}

/** encodeURIComponent, except that text it cannot encode (a lone surrogate) goes as the raw bytes of its UTF-8 escape. */
function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return '%ED%A0%80';
  }
}

interface Envelope {
  success?: unknown;
  error?: { code?: unknown; message?: unknown };
}

describe('fuzz: every operation of the OpenAPI document (fixed seed and budget)', function () {
  this.timeout(600_000);
  let container: Container;
  let running: RunningServer;
  let store: EventStore;
  let doc: Schema;
  let adminToken = '';
  let userToken = '';

  before(async () => {
    // SMS configured (a provider the API never calls: sends are queued), so its routes answer rather than 503
    const smsKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    container = await buildContainer(
      testConfig({
        LOGIN_RATE_LIMIT_PER_IP: '100000',
        API_RATE_LIMIT_PER_IP: '0',
        API_RATE_LIMIT_PER_USER: '0',
        SMS_PROVIDER_URL: 'http://127.0.0.1:9',
        SMS_API_KEY: 'fuzz',
        SMS_API_SECRET: 'fuzz-secret-fuzz-secret-fuzz-secret',
        SMS_PROVIDER_PUBLIC_KEY: smsKey,
        SMS_CALLBACK_BASE_URL: 'http://127.0.0.1:9',
      }),
    );
    store = container.get(TOKENS.EventStore);
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
    const deps = { store, passwordHasher: container.get(TOKENS.PasswordHasher), accessTokens: container.get(TOKENS.AccessTokens) };
    adminToken = (await signedIn(deps, 'admin')).token;
    userToken = (await signedIn(deps, 'user')).token;
    doc = (await (await fetch(`${running.url}/api/v1/openapi.json`)).json()) as Schema;
  });
  after(async () => {
    if (running) await closeServer(running.server);
    if (container) await disposeContainer(container);
  });

  it('no operation answers 5xx, every refusal is the error envelope, and a refused request writes no event', async () => {
    const operations = operationsOf(doc);
    expect(operations.length, 'operations in the document').to.be.greaterThan(50);
    const failures: string[] = [];
    let requests = 0;
    for (const [index, op] of operations.entries()) {
      const pathParams = op.parameters.filter((p) => p.in === 'path');
      const queryParams = op.parameters.filter((p) => p.in === 'query');
      const request = fc.record({
        path: fc.tuple(...pathParams.map((p) => text(p.schema, doc))),
        query: fc.tuple(...queryParams.map((p) => fc.option(text(p.schema, doc), { nil: undefined }))),
        body: op.body ? mutated(op.body, doc) : fc.constant(undefined),
        rawBody: fc.option(fc.constantFrom('{"a":', '[', 'null', '"\\u0000"', '{"a":"\\ud800"}', '{"__proto__":{"x":1}}', '1e999'), {
          nil: undefined,
          freq: 6,
        }),
        who: fc.constantFrom('admin', 'user', 'nobody'),
      });
      // logging the fuzzing admin out would leave the rest of the run unauthenticated
      const spare = op.path === '/api/v1/auth/logout';
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          let url = op.path;
          pathParams.forEach((p, i) => (url = url.replace(`{${p.name}}`, encode(r.path[i]!))));
          const query = queryParams.flatMap((p, i) => (r.query[i] === undefined ? [] : [`${encode(p.name)}=${encode(r.query[i]!)}`]));
          if (query.length > 0) url += `?${query.join('&')}`;
          const headers: Record<string, string> = {};
          const token = spare ? '' : r.who === 'admin' ? adminToken : r.who === 'user' ? userToken : '';
          if (token) headers.Authorization = `Bearer ${token}`;
          let body: string | undefined;
          if (op.method !== 'get' && op.method !== 'delete') {
            headers['Content-Type'] = 'application/json';
            body = r.rawBody ?? JSON.stringify(r.body ?? {});
          }
          const requestId = `fuzz-${index}-${requests}`;
          headers['X-Request-Id'] = requestId;
          const before = await store.headPosition();
          const res = await fetch(`${running.url}${url}`, { method: op.method.toUpperCase(), headers, body });
          requests++;
          // an event stream (the live queue stats) never ends by itself: its status and headers are what is judged
          let text = '';
          if (res.headers.get('content-type')?.startsWith('text/event-stream')) await res.body?.cancel();
          else text = await res.text();
          const where = `${op.method.toUpperCase()} ${url.slice(0, 200)} ${body ? body.slice(0, 200) : ''}`;
          if (res.status >= 500) failures.push(`${res.status} ${where}: ${text.slice(0, 300)}`);
          if (res.status >= 400) {
            let envelope: Envelope | undefined;
            try {
              envelope = JSON.parse(text) as Envelope;
            } catch {
              envelope = undefined;
            }
            if (envelope?.success !== false || typeof envelope.error?.code !== 'string' || typeof envelope.error.message !== 'string') {
              failures.push(`${res.status} without the error envelope: ${where}: ${text.slice(0, 200)}`);
            }
            // what this request appended (an earlier 2xx's background work, a reset mail, may append meanwhile)
            const appended = (await store.readAll({ fromPosition: before, maxCount: 1_000 })).filter((e) => e.metadata.requestId === requestId);
            if (appended.length > 0) failures.push(`${res.status} but ${appended.map((e) => e.type).join(', ')} appended: ${where}`);
          }
        }),
        { seed: SEED + index, numRuns: RUNS, endOnFailure: true },
      );
    }
    console.log(`      fuzz: ${requests} requests over ${operations.length} operations (seed ${SEED}, ${RUNS} per operation)`);
    expect(failures, `${failures.length} of ${requests} requests:\n${failures.slice(0, 30).join('\n')}`).to.deep.equal([]);
  });
});
