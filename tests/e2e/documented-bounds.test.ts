import { expect } from 'chai';
import { generateKeyPairSync, randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Container } from 'inversify';
import type { RunningServer } from '../../src/adapters/http/server.js';
import { BUILT_IN_ORG_ROLES } from '../../src/write-model/access/roles.js';
import { STATISTICS_DIMENSIONS, STATISTICS_METRICS } from '../../src/write-model/statistics-export/catalogue.js';
import type { EventStore } from '../../src/event-store/port.js';
import { TOKENS } from '../../src/tokens.js';
import { startApiWithProjections, type ApiWithProjections } from '../support/api-with-projections.js';
import { startOnPlan } from '../support/plans.js';
import { sampleNote } from '../support/collected.js';
import { isProviderCallback, operationsOf, resolve, type Operation, type Schema } from '../support/openapi-walk.js';
import { signedIn } from '../support/signed-in.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The documented bounds are the real bounds: a sweep over the served OpenAPI
 * document. For every operation with a JSON body or query parameters, every
 * property with a documented minLength/maxLength, minItems/maxItems or
 * minimum/maximum (exclusive too) is sent exactly at its bound (text once in
 * ASCII, once in a character outside the BMP: characters are code points, as
 * the document counts them) and one past it, the rest of the request as valid
 * as this file can make it (the resources its path names exist, the user is
 * on the enterprise plans, the organization's routes are its owner's).
 *
 * Never a 5xx. One past the bound: 422 naming the property. At the bound:
 * never a 422 naming the property, nor a 413 (the body limit, a bound of its
 * own, is raised here); a refusal for another reason — an unknown id, a
 * conflict, another field, a wrong password — is not this test's. Text that
 * has a grammar of its own (an email address, a phone number, a username, a
 * cron expression) is probed with valid text of the bound's length; where no
 * valid text is that long (a name out of a list, a time zone), only past the
 * bound. Provider callbacks are left out as in the fuzz (their formats are
 * the providers'), and so are header parameters. BOUNDS_VERBOSE=1 prints
 * what was refused for other reasons.
 */

type Segment = string | number;

/** a 3×4 PNG */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAMAAAAECAIAAADETxJQAAAAEElEQVR4nGO4o2EDQQx4WQAztw8BKa2zawAAAABJRU5ErkJggg==', 'base64');

type BoundKind = 'maxLength' | 'minLength' | 'maxItems' | 'minItems' | 'maximum' | 'minimum' | 'exclusiveMaximum' | 'exclusiveMinimum';
const BOUND_KINDS: BoundKind[] = ['maxLength', 'minLength', 'maxItems', 'minItems', 'maximum', 'minimum', 'exclusiveMaximum', 'exclusiveMinimum'];

interface Bound {
  /** the operation, `METHOD /path` */
  op: string;
  in: 'body' | 'query';
  /** where the value goes: body keys and array indexes (0), or the query parameter's name */
  path: Segment[];
  kind: BoundKind;
  value: number;
  schema: Schema;
}

interface Probe {
  label: string;
  value: unknown;
  /** true: one past the bound (must be refused, naming the property) */
  past: boolean;
}

/** The schema without `null` among its types or variants. */
function nonNull(schema: Schema | undefined, doc: Schema): Schema {
  const s = resolve(schema, doc);
  const variants: Schema[] | undefined = s.anyOf ?? s.oneOf;
  if (Array.isArray(variants)) {
    const rest = variants.map((v) => resolve(v, doc)).filter((v) => v.type !== 'null');
    if (rest.length === 1) return nonNull(rest[0], doc);
  }
  return s;
}

function typeOf(s: Schema): string | undefined {
  return Array.isArray(s.type) ? s.type.find((t: string) => t !== 'null') : s.type;
}

/** Every documented bound of a schema, with where it sits. */
function boundsOf(op: string, schema: Schema | undefined, doc: Schema, where: Bound['in'], path: Segment[], out: Bound[], depth = 0): Bound[] {
  const s = nonNull(schema, doc);
  if (depth > 8) return out;
  for (const kind of BOUND_KINDS) if (typeof s[kind] === 'number') out.push({ op, in: where, path, kind, value: s[kind], schema: s });
  if (s.properties) for (const [key, value] of Object.entries<Schema>(s.properties)) boundsOf(op, value, doc, where, [...path, key], out, depth + 1);
  if (s.items) boundsOf(op, s.items, doc, where, [...path, 0], out, depth + 1);
  for (const variant of s.anyOf ?? s.oneOf ?? []) boundsOf(op, variant, doc, where, path, out, depth + 1);
  return out;
}

/** A value that fits the schema as far as this file understands it: deterministic, required properties only. */
function sample(schema: Schema | undefined, doc: Schema, depth = 0): unknown {
  const s = nonNull(schema, doc);
  const variants: Schema[] | undefined = s.anyOf ?? s.oneOf;
  if (Array.isArray(variants) && variants.length > 0) return sample(variants[0], doc, depth + 1);
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum.find((v: unknown) => v !== null);
  if (s.const !== undefined) return s.const;
  switch (typeOf(s)) {
    case 'string':
      return stringOf(s, Math.max(s.minLength ?? 1, Math.min(s.maxLength ?? 8, 8)), 'a') ?? 'x';
    case 'integer':
    case 'number': {
      const low = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
      const high = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : Number.MAX_SAFE_INTEGER);
      return Math.min(Math.max(low, 1), high);
    }
    case 'boolean':
      return false;
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, () => sample(s.items, doc, depth + 1));
    case 'object': {
      if (depth > 6) return {};
      const required = new Set<string>(s.required ?? []);
      return Object.fromEntries(
        Object.entries<Schema>(s.properties ?? {})
          .filter(([key]) => required.has(key))
          .map(([key, value]) => [key, sample(value, doc, depth + 1)]),
      );
    }
    default:
      return 'x';
  }
}

/** An email address of exactly `n` characters, or undefined when none is. */
function emailOf(n: number): string | undefined {
  const tld = 'test';
  if (n < 8) return undefined;
  const local = 'a'.repeat(Math.min(64, n - 1 - 2 - tld.length));
  let domain = tld;
  let left = n - local.length - 1 - domain.length;
  while (left > 0) {
    const label = Math.min(63, left - 1);
    if (label < 1) return undefined;
    domain = `${'b'.repeat(label)}.${domain}`;
    left -= label + 1;
  }
  return `${local}@${domain}`;
}

/** Labels of `unit` joined by dots, `n` characters in all (a host name's shape). */
function dotted(n: number, unit: string): string {
  const parts: string[] = [];
  let left = n;
  while (left > 0) {
    const label = Math.min(63, left);
    parts.push(unit.repeat(label));
    left -= label + 1;
  }
  // a trailing dot-less label of one char when the arithmetic leaves a dot at the end
  const text = parts.join('.');
  return text.length === n ? text : `${text.slice(0, n - 1)}${unit}`;
}

/** A string of exactly `n` characters of `unit` that fits the schema's format and pattern, or undefined when none does. */
function stringOf(s: Schema, n: number, unit: string): string | undefined {
  const count = (t: string) => [...t].length;
  let candidates: string[];
  if (s.format === 'email') candidates = unit === 'a' ? [emailOf(n)].filter((v): v is string => v !== undefined) : [];
  else if (s.format === 'uri') candidates = n >= 21 ? [`https://example.com/${unit.repeat(n - 20)}`] : [];
  else if (s.format === 'uuid') candidates = n === 36 ? [randomUUID()] : [];
  else if (s.format === 'date-time') candidates = [];
  else candidates = [unit.repeat(n), '1'.repeat(n), dotted(n, unit), `${'1'.repeat(Math.min(n, 3))}${unit.repeat(Math.max(0, n - 3))}`];
  const pattern = typeof s.pattern === 'string' ? new RegExp(s.pattern, 'u') : undefined;
  return candidates.find((c) => count(c) === n && (!pattern || pattern.test(c)));
}

/**
 * The character outside the BMP text is probed with: one code point, two
 * UTF-16 units, four UTF-8 bytes, and a letter (U+20000, a CJK ideograph),
 * so that fields taking letters only take it too.
 */
const WIDE = '\u{20000}';

/** The values one bound is probed with. */
function probes(bound: Bound, doc: Schema): Probe[] {
  const s = bound.schema;
  const n = bound.value;
  const out: Probe[] = [];
  const text = (label: string, value: string | undefined, past: boolean) => {
    if (value !== undefined) out.push({ label, value, past });
  };
  const items = (count: number) => Array.from({ length: count }, (_, i) => itemOf(bound, s.items, doc, i));
  switch (bound.kind) {
    case 'maxLength':
      text(`${n} ASCII characters`, fill(bound, n, 'a'), false);
      text(`${n} characters outside the BMP`, fill(bound, n, WIDE), false);
      text(`${n + 1} characters`, fill(bound, n + 1, 'a') ?? 'a'.repeat(n + 1), true);
      break;
    case 'minLength':
      text(`${n} ASCII characters`, fill(bound, n, 'a'), false);
      if (n > 1) text(`${n} characters outside the BMP`, fill(bound, n, WIDE), false);
      if (n > 0) text(`${n - 1} characters`, fill(bound, n - 1, 'a') ?? 'a'.repeat(n - 1), true);
      break;
    case 'maxItems':
      out.push({ label: `${n} items`, value: items(n), past: false }, { label: `${n + 1} items`, value: items(n + 1), past: true });
      break;
    case 'minItems':
      out.push({ label: `${n} items`, value: items(n), past: false });
      if (n > 0) out.push({ label: `${n - 1} items`, value: items(n - 1), past: true });
      break;
    case 'maximum':
      out.push({ label: `${n}`, value: n, past: false }, { label: `${n + 1}`, value: n + 1, past: true });
      break;
    case 'minimum':
      out.push({ label: `${n}`, value: n, past: false }, { label: `${n - 1}`, value: n - 1, past: true });
      break;
    case 'exclusiveMaximum': {
      const inside = typeOf(s) === 'integer' ? n - 1 : n - 0.01;
      out.push({ label: `${inside}`, value: inside, past: false }, { label: `${n}`, value: n, past: true });
      break;
    }
    case 'exclusiveMinimum': {
      const inside = typeOf(s) === 'integer' ? n + 1 : n + 0.01;
      out.push({ label: `${inside}`, value: inside, past: false }, { label: `${n}`, value: n, past: true });
      break;
    }
  }
  return out;
}

/**
 * Text of exactly `n` characters the property takes apart from its length,
 * or undefined when there is none (then that probe is not sent). Properties
 * with a grammar of their own (a time zone, a phone number, a sender id) get
 * the longest valid value when the bound is above it.
 */
function fill(bound: Bound, n: number, unit: string): string | undefined {
  const own = OWN_TEXT[`${bound.op} ${keyOf(bound.path)}`] ?? OWN_TEXT[keyOf(bound.path)];
  if (own) return own(n, unit);
  return stringOf(bound.schema, n, unit);
}

/** The i-th item of an array, distinct from the others. */
function itemOf(bound: Bound, items: Schema | undefined, doc: Schema, i: number): unknown {
  const own = OWN_ITEMS[`${bound.op} ${keyOf(bound.path)}`] ?? OWN_ITEMS[keyOf(bound.path)];
  if (own) return own(i);
  const s = nonNull(items, doc);
  if (typeOf(s) === 'string' && !s.enum && !s.format && !s.pattern) return `item${i}`.slice(0, s.maxLength ?? 64);
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[i % s.enum.length];
  return sample(items, doc);
}

const keyOf = (path: Segment[]) => path.map((p) => (typeof p === 'number' ? '[]' : p)).join('.');

/** A mobile number of exactly `n` characters (spaces between its digits, as people write them), or undefined. */
function phoneOf(n: number, i = 0): string | undefined {
  const digits = `+86138${String(i).padStart(8, '0')}`;
  if (n < digits.length) return undefined;
  return `${digits.slice(0, 3)}${' '.repeat(n - digits.length)}${digits.slice(3)}`;
}

/** Text a property takes: `n` characters long, or undefined when no value that long is valid (the probe is then not sent). */
const OWN_TEXT: Record<string, (n: number, unit: string) => string | undefined> = {
  // the document shows no format for these (the schemas pipe a length check into the format check)
  email: (n, unit) => (unit === 'a' ? emailOf(n) : undefined),
  // 3 to 30 letters, each with up to four combining marks that are not counted
  username: (n, unit) => {
    if (n < 3) return undefined;
    if (n <= 30) return (unit === 'a' ? 'a' : '𐐨').repeat(n);
    const marks = n - 30;
    if (marks > 120) return undefined;
    const letter = unit === 'a' ? 'क' : '𐐨';
    const mark = unit === 'a' ? 'ि' : '\u0301';
    return Array.from({ length: 30 }, (_, k) => letter + mark.repeat(Math.floor(marks / 30) + (k < marks % 30 ? 1 : 0))).join('');
  },
  phone: (n, unit) => (unit === 'a' ? phoneOf(n) : undefined),
  'POST /api/v1/sms/messages to': (n, unit) => (unit === 'a' ? phoneOf(n) : undefined),
  'recipients.[]': (n, unit) => (unit === 'a' ? phoneOf(n) : undefined),
  // a cron expression's fields may be written with leading zeros
  // a number of up to 15 digits with its `+`, or up to 11 letters
  sender_id: (n, unit) => (unit !== 'a' ? undefined : n >= 4 && n <= 16 ? `+${'1'.repeat(n - 1)}` : n >= 1 && n <= 11 ? 'A'.repeat(n) : undefined),
  // platform ids and region codes are ASCII
  'platforms.[]': (n, unit) => (unit === 'a' ? 'a'.repeat(n) : undefined),
  'regions.[]': (n, unit) => (unit === 'a' ? 'a'.repeat(n) : undefined),
  'params.allowed_domains.[]': (n, unit) => (unit === 'a' && n >= 5 ? `${dotted(n - 4, 'a')}.com` : undefined),
  'schedule.expression': (n, unit) => (unit === 'a' && n >= 9 ? `${'0'.repeat(n - 8)} 9 * * *` : undefined),
  // the comma lists of the statistics queries leave empty entries out
  metrics: (n, unit) => (unit === 'a' && n >= 14 ? `runs_requested${','.repeat(n - 14)}` : undefined),
  group_by: (n, unit) => (unit === 'a' && n >= 3 ? `day${','.repeat(n - 3)}` : undefined),
};

/**
 * Properties whose every valid value is far shorter than the documented cap
 * (a name out of a list, an IANA zone, an id): only past the cap is probed,
 * and at their own lengths as the other tests do.
 */
for (const key of [
  'POST /api/v1/workflows/executions/{id}/results kind',
  'timezone',
  'schedule.time_zone',
  'granularity',
  'consumer',
  'roles.[]',
  'metrics.[]',
  'group_by.[]',
]) {
  OWN_TEXT[key] = () => undefined;
}

/** The i-th item of the array at this property, when the generic one is not valid there. */
const OWN_ITEMS: Record<string, (i: number) => unknown> = {
  'POST /api/v1/xiaohongshu/contents/batch-delete ids': (i) => `${'0'.repeat(16)}${String(i).padStart(8, '0')}`,
  'POST /api/v1/sms/batches recipients': (i) => phoneOf(14, i),
  metrics: (i) => STATISTICS_METRICS.at(i % STATISTICS_METRICS.length),
  group_by: (i) => STATISTICS_DIMENSIONS.at(i % STATISTICS_DIMENSIONS.length),
  roles: (i) => BUILT_IN_ORG_ROLES.filter((r) => r !== 'owner').at(i % 5),
  'params.allowed_domains': (i) => `d${i}.example.com`,
  'POST /api/v1/workflows/executions/{id}/results items': (i) => sampleNote(`${'0'.repeat(16)}${String(i).padStart(8, '0')}`, 'bounds', i),
};

/** `value` put at `path` in `target`, intermediate objects and arrays made from their schemas. */
function setAt(target: unknown, path: Segment[], value: unknown, schema: Schema | undefined, doc: Schema): unknown {
  if (path.length === 0) return value;
  const head = path[0]!;
  const rest = path.slice(1);
  const s = nonNull(schema, doc);
  if (typeof head === 'number') {
    const items = Array.isArray(target) && target.length > 0 ? [...target] : [sample(s.items, doc)];
    items[head] = setAt(items[head], rest, value, s.items, doc);
    return items;
  }
  const object = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as object) } : ((sample(s, doc) as object) ?? {});
  const child = (object as Record<string, unknown>)[head];
  const childSchema = s.properties?.[head];
  (object as Record<string, unknown>)[head] = setAt(child === undefined ? sample(childSchema, doc) : child, rest, value, childSchema, doc);
  return object;
}

/**
 * Does a 422 name the property (an issue at, under or above its path, or
 * details.field)? At the bound the request is as valid as this file can make
 * it, so a refusal naming the property is one of its size: a value the
 * document allows that the API does not take.
 */
function blames(body: any, bound: Bound): { named: boolean; why: string } {
  const details = body?.error?.details ?? {};
  const wanted = keyOf(bound.path);
  const issues: any[] = Array.isArray(details.issues) ? details.issues : [];
  const named = issues.some((issue) => {
    if (bound.in === 'query' && issue.in !== undefined && issue.in !== 'query') return false;
    const got = (Array.isArray(issue.path) ? issue.path : [issue.path]).map((p: Segment) => (/^\d+$/.test(String(p)) ? '[]' : String(p))).join('.');
    return got === wanted || got.startsWith(`${wanted}.`) || (got !== '' && wanted.startsWith(`${got}.`));
  });
  const field = typeof details.field === 'string' ? details.field.replace(/\.\d+(?=\.|$)/g, '.[]') : undefined;
  return { named: named || field === wanted || field === String(bound.path[0]), why: (JSON.stringify(body?.error ?? body) ?? String(body)).slice(0, 400) };
}

describe('the documented bounds are the real bounds (a sweep over the OpenAPI document)', function () {
  this.timeout(120_000);
  let container: Container;
  let running: RunningServer;
  let store: EventStore;
  let doc: Schema;
  let api: ApiWithProjections | undefined;
  let admin: { userId: string; token: string };
  let user: { userId: string; token: string };
  let victim: { userId: string; token: string };
  /** an organization's owner: a member's plans are the organization's, so the user stays outside one */
  let founder: { userId: string; token: string };
  /** the real resources a path parameter names, by the path's segment before it */
  const ids: Record<string, string | (() => Promise<string>)> = {};
  let password = 'a good password';
  let mediaFolder = '';
  /** tracked novels no alert names yet */
  const untracked: string[] = [];

  interface Reply {
    status: number;
    body: any;
    text: string;
  }
  async function call(method: string, path: string, token: string | undefined, body?: unknown): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${running.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = res.headers.get('content-type')?.startsWith('text/event-stream') ? (await res.body?.cancel(), '') : await res.text();
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text };
  }
  async function created(method: string, path: string, body: unknown, token = user.token, pick = (d: any) => d.id as string): Promise<string> {
    const r = await call(method, path, token, body);
    expect(r.status, `${method} ${path}: ${r.text}`).to.be.oneOf([200, 201, 202]);
    return pick(r.body.data);
  }
  const deps = () => ({ store, passwordHasher: container.get(TOKENS.PasswordHasher), accessTokens: container.get(TOKENS.AccessTokens) });
  const newUser = () => signedIn(deps(), 'user');
  const newProxy = () =>
    created('POST', '/api/v1/proxies', { host: '127.0.0.1', port: 9, protocol: 'http', username: `bounds-${randomUUID()}`, password: 'bounds' }, admin.token);
  /** an image the user uploads (each upload is a media item of its own) */
  async function upload(): Promise<string> {
    const res = await fetch(`${running.url}/api/v1/media`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${user.token}`, 'Content-Type': 'image/png' },
      body: new Uint8Array(PNG),
    });
    const text = await res.text();
    expect(res.status, text).to.equal(201);
    return JSON.parse(text).data.id;
  }
  const hex24 = () => Array.from({ length: 24 }, () => randomInt(16).toString(16)).join('');

  before(async () => {
    // SMS configured (a provider the API never calls: sends are queued), so its routes answer rather than 503
    const smsKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    mediaFolder = await mkdtemp(join(tmpdir(), 'documented-bounds-'));
    const config = {
      API_RATE_LIMIT_PER_IP: '0',
      API_RATE_LIMIT_PER_USER: '0',
      SMS_PROVIDER_URL: 'http://127.0.0.1:9',
      SMS_API_KEY: 'bounds',
      SMS_API_SECRET: 'bounds-secret-bounds-secret-bounds',
      SMS_PROVIDER_PUBLIC_KEY: smsKey,
      SMS_CALLBACK_BASE_URL: 'http://127.0.0.1:9',
      // sends are not charged to the ledger, so an empty balance refuses none
      SMS_CHARGE_LEDGER: 'false',
      // some bodies of the longest texts the document allows, in 4-byte characters, pass the default body limit (a bound of its own, 413)
      HTTP_BODY_LIMIT_BYTES: String(4 * 1024 * 1024),
      MEDIA_STORAGE_URL: `file:${mediaFolder}`,
    };
    api = await startApiWithProjections(config);
    ({ container, store, running } = api);
    admin = await signedIn(deps(), 'admin');
    user = await signedIn(deps(), 'user');
    victim = await signedIn(deps(), 'user');
    founder = await signedIn(deps(), 'user');
    await startOnPlan(store, user.userId, 'xiaohongshu', 'enterprise');
    await startOnPlan(store, user.userId, 'qidian', 'enterprise');
    doc = (await call('GET', '/api/v1/openapi.json', undefined)).body;
    await waitFor(
      'the enterprise plans in the read model',
      async () => {
        const items: any[] = (await call('GET', '/api/v1/subscriptions', user.token)).body?.data?.items ?? [];
        return items.length === 2 && items.every((i) => i.plan === 'enterprise');
      },
      20_000,
      50,
    );

    // the common resources the routes' paths name
    const account = await created('POST', '/api/v1/platform-accounts', {
      platform: 'xiaohongshu',
      credentials: { cookies: `a1=${hex24()}; web_session=${hex24()}` },
      display_name: 'bounds',
    });
    ids['platform-accounts'] = account;
    ids.accounts = account;
    ids.workflows = await created('POST', '/api/v1/workflows', {
      name: 'bounds',
      type: 'xiaohongshu.notes',
      config: { mode: 'keyword', keyword: '茶', maxItems: 5 },
      platform_account_id: account,
    });
    ids.articles = await created('POST', '/api/v1/articles', { title: 'bounds', body: 'bounds' });
    ids.executions = await created('POST', `/api/v1/workflows/${ids.workflows}/execute`, undefined, user.token, (d) => d.execution_id);
    ids.organizations = await created('POST', '/api/v1/organizations', { name: 'bounds' }, founder.token);
    ids.enterprises = ids.organizations;
    ids.proxies = await newProxy();
    // a rule of each kind the probes change (a rule's kind never changes)
    for (const key of ['name', 'params.min', 'params.allowed_domains']) {
      const body = { scope: 'mine', name: 'bounds', ...rule(key) };
      ids[`review-rules ${body.kind}`] = await created('POST', '/api/v1/review-rules', body);
    }
    ids.reports = await created('POST', '/api/v1/reports', {
      name: 'bounds',
      kind: 'qidian.tracked_novels',
      format: 'xlsx',
      schedule: { frequency: 'daily', hour: 9 },
    });
    ids.trackings = await created('POST', '/api/v1/qidian/trackings', { novel_id: '1036370336' });
    ids.alerts = await created('POST', '/api/v1/qidian/alerts', { novel_id: '1036370336', kind: 'word_count_threshold', words: 1_000 });
    ids.users = victim.userId;
    ids.members = founder.userId;
    ids.roles = await created(
      'POST',
      `/api/v1/organizations/${ids.organizations}/roles`,
      { name: 'bounds', grants: { 'collection.*.view': 'own' } },
      founder.token,
    );
    ids['{holder_kind}'] = ids.organizations;
    ids.rankings = '热销榜';
    ids.streams = `user-${user.userId}`;
    ids.novels = '1036370336';
    ids.competitors = '1036370336';
    // novels tracked for the alerts the probes create (one alert of a kind per novel)
    for (let i = 0; i < 6; i++) {
      const novel = novelId();
      await created('POST', '/api/v1/qidian/trackings', { novel_id: novel });
      untracked.push(novel);
    }
    const profile = (await call('GET', '/api/v1/users/profile', user.token)).body.data;
    OWN_ITEMS['POST /api/v1/articles/{id}/publish account_ids'] = (i) => (i === 0 ? account : randomUUID());
    // as many images as an article may name
    const media: string[] = [];
    for (let i = 0; i < 18; i++) media.push(await upload());
    OWN_ITEMS.image_media_ids = (i) => media[i % media.length];
    OWN_ITEMS['POST /api/v1/reports recipients'] = () => profile.email;
    OWN_ITEMS['PUT /api/v1/reports/{id} recipients'] = () => profile.email;
  });
  after(async () => {
    await api?.stop();
    if (mediaFolder) await rm(mediaFolder, { recursive: true, force: true });
  });

  it('every value at a documented bound is taken, every value past it is 422 naming it, never a 5xx', async () => {
    const findings: string[] = [];
    const notes: string[] = [];
    let requests = 0;
    for (const op of operationsOf(doc, (path) => isProviderCallback(path) || path.includes('/oauth/{platform}/callback'))) {
      const bounds: Bound[] = [];
      const name = `${op.method.toUpperCase()} ${op.path}`;
      if (op.body) boundsOf(name, op.body, doc, 'body', [], bounds);
      for (const p of op.parameters) if (p.in === 'query') boundsOf(name, p.schema, doc, 'query', [p.name], bounds);
      if (bounds.length === 0) continue;
      if (process.env.BOUNDS_VERBOSE) {
        const base = bodyOf(op, { op: '', in: 'query', path: [], kind: 'maximum', value: 0, schema: {} }, { label: '', value: undefined, past: false });
        const url = await urlOf(op, { op: '', in: 'body', path: [], kind: 'maximum', value: 0, schema: {} }, { label: '', value: undefined, past: false });
        const reply = await send(op, url, base);
        if (reply.status >= 300)
          notes.push(`BASE ${op.method.toUpperCase()} ${url} ${JSON.stringify(base)?.slice(0, 200)}: ${reply.status} ${reply.text.slice(0, 300)}`);
      }
      for (const bound of bounds) {
        for (const probe of probes(bound, doc)) {
          const url = await urlOf(op, bound, probe);
          const body = op.body ? bodyOf(op, bound, probe) : undefined;
          const reply = await send(op, url, body);
          requests++;
          const where = `${op.method.toUpperCase()} ${op.path} ${bound.in}.${keyOf(bound.path)} ${bound.kind}=${bound.value}, sent ${probe.label}`;
          if (reply.status >= 500) {
            findings.push(`${where}: ${reply.status} ${reply.text.slice(0, 300)}`);
            continue;
          }
          const blame = blames(reply.body, bound);
          if (probe.past) {
            if (reply.status !== 422 || !blame.named) findings.push(`${where}: past the bound answered ${reply.status}, not 422 naming it: ${blame.why}`);
          } else if (reply.status === 413 || (reply.status === 422 && blame.named)) {
            findings.push(`${where}: at the bound refused ${reply.status}: ${blame.why}`);
          } else if (reply.status >= 300) {
            notes.push(`AT ${reply.status} ${where}: ${reply.text.slice(0, 160)}`);
          }
        }
      }
    }
    if (process.env.BOUNDS_VERBOSE) console.log(notes.join('\n'));
    console.log(`      bounds: ${requests} requests`);
    expect(findings, `${findings.length} of ${requests} requests:\n${findings.join('\n')}`).to.deep.equal([]);

    /** As the user (an organization's routes: its owner; a new organization: someone in none), an admin where the route wants one. */
    async function send(op: Operation, url: string, body: unknown): Promise<Reply> {
      const method = op.method.toUpperCase();
      let token = user.token;
      if (method === 'POST' && (op.path === '/api/v1/organizations' || op.path === '/api/v1/customers/enterprises')) token = (await newUser()).token;
      else if (/^\/api\/v1\/(organizations|customers|invitations)\b/.test(op.path)) token = founder.token;
      const reply = await call(method, url, token, body);
      if (op.path === '/api/v1/users/me/password' && reply.status === 200) password = (body as { new_password: string }).new_password;
      if (reply.status === 403 && /role/.test(String(reply.body?.error?.details?.reason))) return call(method, url, admin.token, body);
      return reply;
    }

    async function urlOf(op: Operation, bound: Bound, probe: Probe): Promise<string> {
      let url = op.path;
      const segments = op.path.split('/');
      for (const p of op.parameters.filter((q) => q.in === 'path')) {
        const before = segments[segments.indexOf(`{${p.name}}`) - 1] ?? '';
        // a proxy of its own for the route that retires one
        const known =
          op.method === 'delete' && op.path === '/api/v1/proxies/{id}'
            ? newProxy
            : op.path === '/api/v1/review-rules/{id}'
              ? ids[`review-rules ${rule(keyOf(bound.path)).kind}`]
              : ids[before];
        const value = typeof known === 'function' ? await known() : (known ?? (/id$/i.test(p.name) ? randomUUID() : String(sample(p.schema, doc))));
        url = url.replace(`{${p.name}}`, encodeURIComponent(value));
      }
      const query: string[] = [];
      for (const p of op.parameters.filter((q) => q.in === 'query')) {
        let value: unknown;
        if (bound.in === 'query' && bound.path[0] === p.name) value = probe.value;
        else if (p.required) value = sample(p.schema, doc);
        else continue;
        query.push(`${encodeURIComponent(p.name)}=${encodeURIComponent(String(value))}`);
      }
      return query.length > 0 ? `${url}?${query.join('&')}` : url;
    }

    function bodyOf(op: Operation, bound: Bound, probe: Probe): unknown {
      if (!op.body) return undefined;
      const base = BASES[`${op.method.toUpperCase()} ${op.path}`]?.(keyOf(bound.path)) ?? sample(op.body, doc);
      return bound.in === 'body' ? setAt(base, bound.path, probe.value, op.body, doc) : base;
    }
  });

  const cookies = () => ({ cookies: `a1=${hex24()}; web_session=${hex24()}` });
  const keywordNotes = { mode: 'keyword', keyword: '茶', maxItems: 5 };
  const email = () => `bounds-${randomUUID()}@example.test`;
  const novelId = () => String(randomInt(1_000_000_000, 2_000_000_000));
  /** a report's schedule that has the probed part */
  const schedule = (key: string) =>
    key === 'schedule.weekday'
      ? { frequency: 'weekly', hour: 9, weekday: 1 }
      : key === 'schedule.day_of_month'
        ? { frequency: 'monthly', hour: 9, day_of_month: 1 }
        : { frequency: 'daily', hour: 9 };
  /** a review rule of the kind the probed part belongs to */
  const rule = (key: string) =>
    key.startsWith('params.allowed_domains')
      ? { kind: 'link', params: { allowed_domains: ['example.com'] } }
      : key === 'params.min' || key === 'params.max'
        ? { kind: 'length', params: { field: 'title', min: 0, max: 10 } }
        : { kind: 'banned_phrase', phrases: ['bounds'] };
  const today = () => new Date().toISOString().slice(0, 10);

  /** Bodies valid apart from the probed property (its key given), where the schema's own sample is not. */
  const BASES: Record<string, (key: string) => unknown> = {
    'POST /api/v1/auth/register': () => ({ email: email(), password: 'a good password', display_name: 'bounds' }),
    'POST /api/v1/auth/login': (key) =>
      key === 'username' ? { username: 'bounds', password: 'a good password' } : { email: email(), password: 'a good password' },
    'POST /api/v1/auth/login/mfa': () => ({ mfa_token: 'bounds', code: '123456' }),
    'POST /api/v1/auth/forgot-password': () => ({ email: email() }),
    'PUT /api/v1/users/me/password': () => ({ current_password: password, new_password: `${password}!` }),
    'DELETE /api/v1/users/mfa/totp': () => ({ password, code: '123456' }),
    'PUT /api/v1/users/me/phone': () => ({ phone: '+8613800138000' }),
    'POST /api/v1/users/mfa/sms': () => ({ password }),
    'DELETE /api/v1/users/mfa/sms': () => ({ password }),
    'POST /api/v1/users/api-keys': () => ({ name: 'bounds', scopes: ['read'] }),
    'POST /api/v1/platform-accounts': () => ({ platform: 'xiaohongshu', credentials: cookies(), display_name: 'bounds' }),
    'PUT /api/v1/platform-accounts/{id}': () => ({ display_name: 'bounds' }),
    'POST /api/v1/xiaohongshu/accounts': () => ({ credentials: cookies(), display_name: 'bounds' }),
    'PUT /api/v1/xiaohongshu/accounts/{id}': () => ({ display_name: 'bounds' }),
    'POST /api/v1/workflows': () => ({ name: 'bounds', type: 'xiaohongshu.notes', config: keywordNotes, platform_account_id: ids.accounts }),
    'PUT /api/v1/workflows/{id}': () => ({ name: 'bounds' }),
    'POST /api/v1/xiaohongshu/contents/collect': () => ({ platform_account_id: ids.accounts, config: keywordNotes }),
    'POST /api/v1/xiaohongshu/messages': () => ({ platform_account_id: ids.accounts, conversation_id: 'conv_05120851b5504067', text: '你好' }),
    'POST /api/v1/articles/{id}/publish': () => ({ account_ids: [ids.accounts] }),
    'POST /api/v1/proxies': () => ({
      host: '127.0.0.1',
      port: randomInt(1_024, 65_000),
      protocol: 'http',
      username: `bounds-${randomUUID()}`,
      password: 'bounds',
    }),
    'POST /api/v1/proxies/{id}/health-checks': () => ({ ok: false, error: 'bounds' }),
    'POST /api/v1/qidian/trackings': () => ({ novel_id: novelId() }),
    'POST /api/v1/qidian/alerts': () => ({ novel_id: untracked.pop() ?? novelId(), kind: 'word_count_threshold', words: 1_000 }),
    'PUT /api/v1/qidian/alerts/{id}': () => ({ words: 1_000 }),
    'POST /api/v1/reports': (key) => ({ name: 'bounds', kind: 'qidian.tracked_novels', format: 'xlsx', schedule: schedule(key) }),
    'PUT /api/v1/reports/{id}': (key) => ({ name: 'bounds', schedule: schedule(key) }),
    'POST /api/v1/statistics/exports': () => ({ from: today(), to: today(), metrics: ['runs_requested'], format: 'xlsx' }),
    'POST /api/v1/review-rules': (key) => ({ scope: 'mine', name: 'bounds', ...rule(key) }),
    'PUT /api/v1/review-rules/{id}': (key) => ({ name: 'bounds', ...rule(key) }),
    'POST /api/v1/sms/messages': () => ({ to: '+8613800138000', text: 'hello' }),
    'POST /api/v1/sms/batches': () => ({ text: 'hello', sender_id: 'ACME', recipients: ['+8613800138000'] }),
    'POST /api/v1/sms/keywords': () => ({ keyword: `k${randomInt(1_000_000)}` }),
    'POST /api/v1/qidian/keywords': () => ({ keyword: `k${randomInt(1_000_000)}` }),
    'PATCH /api/v1/organizations/{id}': () => ({ name: 'bounds' }),
    'PATCH /api/v1/organizations/{id}/members/{userId}': () => ({ team: 'bounds' }),
    'POST /api/v1/organizations/{id}/invitations': () => ({ email: email(), roles: ['analyst'] }),
    'POST /api/v1/organizations/{id}/roles': () => ({ name: `bounds-${randomInt(1_000_000)}`, grants: { 'collection.*.view': 'own' } }),
    'PATCH /api/v1/organizations/{id}/roles/{roleId}': () => ({ name: `bounds-${randomInt(1_000_000)}` }),
  };
});
