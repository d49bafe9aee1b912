import { expect } from 'chai';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMerchant, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { START } from '../../src/event-store/position.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { notificationAggregate } from '../../src/write-model/notification/decider.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { userStream } from '../../src/write-model/user/index.js';
import { collectedRun, noteItems, qidianEntry, qidianSnapshot, sampleNote } from '../support/collected.js';
import { registerMember, TEST_PASSWORD, type Member } from '../support/members.js';
import { grantPlan } from '../support/plans.js';
import type { CallOptions, Platform } from '../support/platform.js';
import { startSmsPlatform, type SmsPlatform } from '../support/sms-platform.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Every query is filtered by owner (README, docs/http-api.md, docs/rbac.md):
 * a user never reads, changes or learns of another user's (or another
 * organization's) resources. Walked systematically, on one platform with the
 * SMS and payment sandboxes (no workers: what alice starts stays open):
 *
 * - alice, outside any organization, makes one of every kind of resource she
 *   can, and the same kinds again brought to where a repeat of her own step
 *   is a no-op (paused, cancelled, read, revoked, deleted); then founds an
 *   organization with an invitation, a custom role and resources it owns;
 * - bob (outside any organization) and carol (the owner of another one) call
 *   every operation of the served OpenAPI document whose path has parameters
 *   with alice's ids — plainly, with `If-Match: "0"`, with a stale
 *   `If-Match`, a read also as HEAD, a minimal valid body where one is
 *   needed — each beside the same request on ids nobody has. They must get
 *   what docs/rbac.md's table gives their role (403 `role` where it denies)
 *   or 404, exactly as an unknown id gets it (code, message, details,
 *   ETag): never a 2xx on her resource, a 409 or 412 that tells it exists,
 *   or a 500;
 * - the lists, exports and statistics answer them nothing of alice's, and
 *   her ids named in bodies and queries are answered as unknown ones;
 * - none of their requests wrote an event, and alice reads all as before.
 */

type Schema = Record<string, any>;
interface Operation {
  method: string;
  path: string;
  params: Schema[];
  body?: Schema;
  auth: boolean;
}
interface Answer {
  status: number;
  text: string;
  body: any;
  correlationId: string | null;
  headers: Headers;
}

// a real 3×4 PNG
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAMAAAAECAIAAADETxJQAAAAEElEQVR4nGO4o2EDQQx4WQAztw8BKa2zawAAAABJRU5ErkJggg==', 'base64');
const LURE = '私信领取';
const NOVEL = `10${randomInt(10_000_000, 99_999_999)}`;
const AUTHOR = `作者${randomBytes(4).toString('hex')}`;
const hex24 = () => randomBytes(12).toString('hex');
/** an If-Match no resource of the walk is at: stale for all of them */
const STALE = '"987654321"';
const REPORT = { kind: 'qidian.tracked_novels', format: 'xlsx', schedule: { frequency: 'daily', hour: 9 } };

/**
 * Operations whose parameters the walk does not fill, and why. Every other
 * operation with path parameters must be walked: a new one fails the test
 * until it is given its parameters here or below.
 */
const SKIPPED: Record<string, string> = {
  'GET /api/v1/platform-accounts/oauth/{platform}/callback':
    'no token: the platform sends the browser back with a sealed state naming the user; nothing of alice to name without an OAuth sandbox',
};

/**
 * Operations that name no resource of alice's, only a catalogue entry or
 * the caller's own data: bob may get 2xx, as long as nothing of alice's is in it.
 */
const NOT_TENANT: Record<string, string> = {
  'GET /api/v1/services/{service}/plans': 'the public plan catalogue',
  'GET /api/v1/platform-accounts/oauth/{platform}/authorize': 'starts bob’s own binding',
  'GET /api/v1/qidian/rankings/{type}': 'a board: bob’s own captures of it',
  'GET /api/v1/ledger/statements/{month}': 'bob’s own statement of the month',
};

function resolve(schema: Schema | undefined, doc: Schema): Schema {
  let s = schema ?? {};
  for (let i = 0; i < 10 && typeof s.$ref === 'string'; i++) s = doc.components?.schemas?.[s.$ref.split('/').pop()!] ?? {};
  return s;
}

function operations(doc: Schema): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<Schema>(doc.paths)) {
    for (const [method, op] of Object.entries<Schema>(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method) || !path.includes('{')) continue;
      const json = op.requestBody?.content?.['application/json'];
      out.push({
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? []).map((p: Schema) => resolve(p, doc)),
        body: json ? resolve(json.schema, doc) : undefined,
        auth: (op.security ?? doc.security ?? []).length > 0,
      });
    }
  }
  // reads first, then changes, deletions last: a defect that destroys does not hide the others
  const order = (m: string) => ({ GET: 0, POST: 1, PUT: 1, PATCH: 1, DELETE: 2 })[m] ?? 1;
  return out.sort((a, b) => order(a.method) - order(b.method));
}

/** A value the schema accepts, as small as it allows: required properties only. */
function minimal(raw: Schema | undefined, doc: Schema): unknown {
  const s = resolve(raw, doc);
  if (s.oneOf ?? s.anyOf) return minimal((s.oneOf ?? s.anyOf)[0], doc);
  if (s.enum) return s.enum.find((v: unknown) => v !== null);
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== 'null') : s.type;
  switch (type) {
    case 'object':
      return Object.fromEntries((s.required ?? []).map((k: string) => [k, minimal(s.properties?.[k], doc)]));
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, () => minimal(s.items, doc));
    case 'integer':
    case 'number':
      return s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return false;
    case 'string':
      if (s.format === 'uuid') return randomUUID();
      if (s.format === 'email') return `stranger-${randomUUID().slice(0, 8)}@example.test`;
      if (s.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
      return 'x'.repeat(Math.max(1, s.minLength ?? 1));
    default:
      return null;
  }
}

/** An id of the same shape (the parameter's schema, else the value's look) that nobody has. */
function unknownLike(schema: Schema | undefined, value: string): string {
  const s = schema ?? {};
  if (s.format === 'uuid' || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) return randomUUID();
  if (/^[0-9a-f]{24}$/.test(value)) return hex24();
  if (/^\d+$/.test(value)) return String(randomInt(1_000_000_000, 9_999_999_999));
  if (/^[A-Z0-9]+$/.test(value)) return `NB${randomInt(1_000_000_000)}`;
  return `nobody-${randomUUID()}`;
}

type Role = 'personal user' | 'owner';
interface Stranger {
  name: string;
  userId: string;
  token: string;
  email: string;
  /** the column of docs/rbac.md's table that says what they may call */
  role: Role;
}

/** The table of docs/rbac.md: route → role → allowed. */
async function rbacTable(): Promise<Map<string, Record<string, boolean>>> {
  const text = await readFile(new URL('../../docs/rbac.md', import.meta.url), 'utf8');
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('| route | permission |'))!;
  const columns = header
    .split('|')
    .map((c) => c.trim())
    .slice(3, -1);
  const table = new Map<string, Record<string, boolean>>();
  for (const line of lines) {
    const row = /^\| `(\w+) ([^`]+)` \| `[^`]+` \|(.*)\|$/.exec(line);
    if (!row) continue;
    const cells = row[3]!.split('|').map((c) => c.trim());
    table.set(`${row[1]} ${row[2]}`, Object.fromEntries(columns.map((c, i) => [c, cells[i] === 'allow'])));
  }
  return table;
}

describe('cross-tenant walk (e2e): every route with path parameters, as a stranger, on alice’s resources', function () {
  this.timeout(180_000);
  let sms: SmsPlatform;
  let payments: PaymentSandbox;
  let platform: Platform;
  let mediaRoot: string;
  let alice: Member;
  let bob: Stranger;
  let carol: Stranger;
  let doc: Schema;
  let walkedOps: Operation[];
  let grants: Map<string, Record<string, boolean>>;
  let eventsBeforeWalks: number;
  let carolOrganization: string;
  /** each stranger's own article and workflow, to name alice's things in */
  const strangersOwn: Record<string, { article: string; workflow: string }> = {};
  /** the correlation of every request of the strangers: no event may carry one */
  const correlations = new Set<string>();
  /** alice's ids by what they name */
  const ids: Record<string, string> = {};
  /** what alice's resources read as before the walk */
  const readBefore: Record<string, string> = {};

  async function call(method: string, path: string, options: CallOptions = {}): Promise<Answer> {
    const reply = await platform.call(method, path, { ...options, redirect: 'manual' });
    return { ...reply, correlationId: reply.headers.get('x-correlation-id') };
  }

  async function created(what: string, reply: Answer, pick: (data: any) => string = (d) => d.id): Promise<string> {
    expect(reply.status, `${what}: ${reply.text}`).to.be.oneOf([200, 201, 202]);
    ids[what] = pick(reply.body.data);
    return ids[what]!;
  }

  /** `founder` founds an organization on the enterprise plans (a member's plans are the organization's) and may act in it. */
  async function foundOrganization(founder: { token: string }, name: string): Promise<string> {
    const founded = await call('POST', '/api/v1/organizations', { token: founder.token, body: { name } });
    expect(founded.status, founded.text).to.equal(201);
    const organization = founded.body.data.id as string;
    for (const service of ['xiaohongshu', 'qidian'] as const) {
      await waitFor(`${name}'s ${service} subscription`, async () => (await platform.events(subscriptionStream(organization, service))).length > 0, 10_000, 50);
      await grantPlan(platform.store, organization, service, 'enterprise');
    }
    await waitFor(
      `${name}'s founder a member`,
      async () => (await call('GET', `/api/v1/organizations/${organization}/members`, { token: founder.token })).status === 200,
      10_000,
      100,
    );
    return organization;
  }

  /** A registered, signed-in user whose free plans are there (the process manager starts them). */
  async function signUp(name: string): Promise<Member> {
    const member = await registerMember(platform, name);
    await waitFor(
      `${name}'s free plans`,
      async () => (await call('GET', '/api/v1/subscriptions', { token: member.token })).body?.data?.items?.length === 2,
      20_000,
      50,
    );
    return member;
  }

  /** alice's request */
  const as = (method: string, path: string, body?: unknown) => call(method, path, { token: alice.token, ...(body !== undefined ? { body } : {}) });
  /** alice's request that must succeed */
  async function done(method: string, path: string, body?: unknown): Promise<void> {
    const r = await as(method, path, body);
    expect(r.status, `${method} ${path}: ${r.text}`).to.be.oneOf([200, 201, 202]);
  }
  const upload = (query = '') => call('POST', `/api/v1/media${query}`, { token: alice.token, raw: PNG, type: 'image/png' });
  const xiaohongshuAccount = (display_name: string, extra: Record<string, unknown> = {}) =>
    as('POST', '/api/v1/platform-accounts', {
      platform: 'xiaohongshu',
      credentials: { cookies: `a1=${hex24()}; web_session=${hex24()}` },
      display_name,
      ...extra,
    });
  const notesWorkflow = (name: string, platform_account_id: string, extra: Record<string, unknown> = {}) =>
    as('POST', '/api/v1/workflows', {
      name,
      type: 'xiaohongshu.notes',
      config: { mode: 'keyword', keyword: '茶', maxItems: 5 },
      platform_account_id,
      ...extra,
    });

  /** A notification of alice's, as pm-notify-user sends one. */
  async function notifyAlice(what: string): Promise<void> {
    ids[what] = randomUUID();
    await handle(
      platform.store,
      notificationAggregate,
      ids[what]!,
      {
        type: 'Notify',
        userId: alice.userId,
        notificationId: ids[what]!,
        kind: 'quota_exceeded',
        title: 'alice only',
        body: 'alice only',
        data: {},
        now: new Date().toISOString(),
      },
      { context: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' } },
    );
  }

  /** One of every kind of resource alice can have outside an organization, each open to act on. */
  async function alicesResources(): Promise<void> {
    // collection: an active Xiaohongshu account, a workflow on it, a run requested, notes and a novel collected
    const account = await created('account', await xiaohongshuAccount('爱丽丝的号'));
    const verified = await as('POST', `/api/v1/platform-accounts/${account}/verify`);
    expect(verified.body?.data, verified.text).to.include({ status: 'active' });
    const workflow = await created('workflow', await notesWorkflow('爱丽丝的咖啡笔记', account));
    await created('execution', await as('POST', `/api/v1/workflows/${workflow}/execute`), (d) => d.execution_id);
    ids.content = hex24();
    await collectedRun(platform.store, {
      ownerId: alice.userId,
      site: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      items: noteItems([sampleNote(ids.content, '爱丽丝的笔记', 7)]),
    });
    const now = new Date().toISOString();
    const snapshot = qidianSnapshot(NOVEL, now, 100_000, 50, 2_000, 30);
    await collectedRun(platform.store, {
      ownerId: alice.userId,
      site: 'qidian',
      workflowType: 'qidian.novels',
      config: { novelIds: [NOVEL] },
      items: [{ ...snapshot, data: { ...snapshot.data, author: AUTHOR } }, qidianEntry('热销榜', 1, NOVEL, '爱丽丝的小说', AUTHOR, now)],
    });
    ids.novel = NOVEL;
    ids.author = AUTHOR;
    await created('tracking', await as('POST', '/api/v1/qidian/trackings', { novel_id: NOVEL }));
    await created('alert', await as('POST', '/api/v1/qidian/alerts', { novel_id: NOVEL, kind: 'update' }));
    await created('keyword', await as('POST', '/api/v1/qidian/keywords', { keyword: `爱丽丝${randomInt(1_000_000)}` }));
    const message = { platform_account_id: account, conversation_id: 'conv_05120851b5504067', text: '你好' };
    await created('outgoing', await as('POST', '/api/v1/xiaohongshu/messages', message), (d) => d.message_id);

    // publishing: an image, an article naming it, her own rule flagging it, a publication waiting for review
    await created('media', await upload());
    await created('reviewRule', await as('POST', '/api/v1/review-rules', { scope: 'mine', kind: 'banned_phrase', name: '爱丽丝的规则', phrases: [LURE] }));
    const article = await created(
      'article',
      await as('POST', '/api/v1/articles', { title: '爱丽丝的文章', body: `想要清单的朋友${LURE}。`, cover_media_id: ids.media }),
    );
    await created('publication', await as('POST', `/api/v1/articles/${article}/publish`, { account_ids: [account] }), (d) => d.publications[0].id);
    await waitFor(
      'the publication in review',
      async () => {
        const shown = (await as('GET', `/api/v1/publications/${ids.publication}`)).body?.data;
        if (shown?.review?.review_id) ids.review = shown.review.review_id;
        return shown?.status === 'in_review' && ids.review !== undefined;
      },
      30_000,
      100,
    );

    // reports and statistics (no reports worker: the export stays pending)
    const report = await created('report', await as('POST', '/api/v1/reports', { name: '爱丽丝的周报', ...REPORT }));
    await created('reportRun', await as('POST', `/api/v1/reports/${report}/run`), (d) => d.run_id);
    const today = new Date().toISOString().slice(0, 10);
    await created(
      'statisticsExport',
      await as('POST', '/api/v1/statistics/exports', { from: today, to: today, metrics: ['sms_sent'], format: 'csv' }),
      (d) => d.export_id,
    );

    // account and billing: an API key, her session, a notification, her subscription, an order placed with the payment sandbox
    await created('apiKey', await as('POST', '/api/v1/users/api-keys', { name: 'alice key', scopes: ['read'] }));
    ids.session = (await as('GET', '/api/v1/users/sessions')).body.data.items[0].id;
    await notifyAlice('notification');
    ids.subscription = ((await as('GET', '/api/v1/subscriptions')).body.data.items as any[]).find((x) => x.service === 'xiaohongshu').id;
    const order = { service: 'qidian', plan: 'pro', billing_cycle: 'monthly', provider: 'alipay' };
    await created('order', await as('POST', '/api/v1/payments/orders', order), (d) => d.order_id);

    // SMS: a message, a batch, a keyword (no sms-send worker: they stay pending)
    await created('smsMessage', await as('POST', '/api/v1/sms/messages', { to: '+8613800138000', text: 'alice to a friend' }), (d) => d.message_id);
    const batch = { text: 'alice to friends', sender_id: 'ALICE', recipients: ['+8613800138001', '+8613800138002'] };
    await created('smsBatch', await as('POST', '/api/v1/sms/batches', batch), (d) => d.batch_id);
    await created('smsKeyword', await as('POST', '/api/v1/sms/keywords', { keyword: `ALICE${randomInt(1_000_000_000)}` }), (d) => d.keyword);
  }

  /** The same kinds again, brought by alice to where a repeat of her own step is a no-op: paused, cancelled, read, or gone. */
  async function alicesNoOps(): Promise<void> {
    const paused = await created('pausedWorkflow', await notesWorkflow('暂停的', ids.account!));
    const cancelled = await created('cancelledExecution', await as('POST', `/api/v1/workflows/${paused}/execute`), (d) => d.execution_id);
    await done('POST', `/api/v1/workflows/executions/${cancelled}/cancel`);
    await done('POST', `/api/v1/workflows/${paused}/pause`);
    await done('DELETE', `/api/v1/workflows/${await created('deletedWorkflow', await notesWorkflow('删掉的', ids.account!))}`);
    const again = await as('POST', `/api/v1/articles/${ids.article}/publish`, { account_ids: [ids.account] });
    await done('POST', `/api/v1/publications/${await created('cancelledPublication', again, (d) => d.publications[0].id)}/cancel`);
    const batch = await as('POST', '/api/v1/sms/batches', { text: 'alice again', sender_id: 'ALICE', recipients: ['+8613800138003'] });
    await done('POST', `/api/v1/sms/batches/${await created('cancelledBatch', batch, (d) => d.batch_id)}/cancel`);
    await notifyAlice('readNotification');
    await waitFor('her notification read', async () => (await as('POST', `/api/v1/notifications/${ids.readNotification}/read`)).status === 200, 10_000, 100);
    await done(
      'DELETE',
      `/api/v1/users/api-keys/${await created('revokedApiKey', await as('POST', '/api/v1/users/api-keys', { name: 'revoked', scopes: ['read'] }))}`,
    );
    const secondLogin = await call('POST', '/api/v1/auth/login', { body: { email: alice.email, password: TEST_PASSWORD } });
    await waitFor('her second session listed', async () => {
      const listed = await call('GET', '/api/v1/users/sessions', { token: secondLogin.body.data.access_token });
      ids.endedSession = (listed.body?.data?.items as any[] | undefined)?.find((x) => x.current)?.id;
      return ids.endedSession !== undefined;
    });
    await done('DELETE', `/api/v1/users/sessions/${ids.endedSession}`);
    const untracked = await as('POST', '/api/v1/qidian/trackings', { novel_id: `20${randomInt(10_000_000, 99_999_999)}` });
    await done('DELETE', `/api/v1/qidian/trackings/${await created('untrackedTracking', untracked)}`);
    await done(
      'DELETE',
      `/api/v1/qidian/alerts/${await created('deletedAlert', await as('POST', '/api/v1/qidian/alerts', { novel_id: NOVEL, kind: 'completion' }))}`,
    );
    await done(
      'DELETE',
      `/api/v1/qidian/keywords/${await created('deletedKeyword', await as('POST', '/api/v1/qidian/keywords', { keyword: `删除${randomInt(1_000_000)}` }))}`,
    );
    const rule = await as('POST', '/api/v1/review-rules', { scope: 'mine', kind: 'banned_phrase', name: '删掉的规则', phrases: ['删'] });
    await done('DELETE', `/api/v1/review-rules/${await created('deletedReviewRule', rule)}`);
    await done('DELETE', `/api/v1/reports/${await created('deletedReport', await as('POST', '/api/v1/reports', { name: '删掉的', ...REPORT }))}`);
    await done('DELETE', `/api/v1/articles/${await created('deletedArticle', await as('POST', '/api/v1/articles', { title: '删掉的文章', body: '删' }))}`);
    await done('DELETE', `/api/v1/media/${await created('deletedMedia', await upload())}`);
    await done('DELETE', `/api/v1/platform-accounts/${await created('disconnectedAccount', await xiaohongshuAccount('断开的号'))}`);
    const keyword = await as('POST', '/api/v1/sms/keywords', { keyword: `GONE${randomInt(1_000_000_000)}` });
    await done('DELETE', `/api/v1/sms/keywords/${await created('releasedSmsKeyword', keyword, (d) => d.keyword)}`);
  }

  /** alice founds her organization (no stranger is in it): an invitation, a custom role (and a revoked and a deleted one), what it owns. */
  async function alicesOrganization(): Promise<void> {
    const organization = (ids.organization = await foundOrganization(alice, 'Alice Ltd'));
    ids.user = alice.userId;
    const invite = (who: string) =>
      as('POST', `/api/v1/organizations/${organization}/invitations`, { email: `${who}-${randomUUID().slice(0, 8)}@example.test`, roles: ['analyst'] });
    const role = (name: string) => as('POST', `/api/v1/organizations/${organization}/roles`, { name, grants: { 'collection.*.view': 'own' } });
    await created('invitation', await invite('invitee'));
    await created('role', await role('Viewer'));
    await done('DELETE', `/api/v1/organizations/${organization}/invitations/${await created('revokedInvitation', await invite('revoked'))}`);
    await done('DELETE', `/api/v1/organizations/${organization}/roles/${await created('deletedRole', await role('Gone'))}`);
    const orgAccount = await created('orgAccount', await xiaohongshuAccount('爱丽丝公司的号', { owner: 'organization' }));
    await created('orgWorkflow', await notesWorkflow('爱丽丝公司的笔记', orgAccount, { owner: 'organization' }));
    await created('orgMedia', await upload('?owner=organization'));
    await created(
      'orgArticle',
      await as('POST', '/api/v1/articles', { title: '爱丽丝公司的文章', body: '公司', cover_media_id: ids.orgMedia, owner: 'organization' }),
    );
    await waitFor('her organization’s subscriptions', async () => {
      const held = ((await as('GET', '/api/v1/subscriptions')).body?.data?.items ?? []) as any[];
      ids.orgSubscription = held.find((x) => x.holder_kind === 'organization' && x.service === 'xiaohongshu')?.id;
      return ids.orgSubscription !== undefined;
    });
  }

  /** What alice reads of each of her resources (compared after the walks). */
  const aliceReads = (): Record<string, string> => ({
    article: `/api/v1/articles/${ids.article}`,
    versions: `/api/v1/articles/${ids.article}/versions`,
    workflow: `/api/v1/workflows/${ids.workflow}`,
    account: `/api/v1/platform-accounts/${ids.account}`,
    content: `/api/v1/xiaohongshu/contents/${ids.content}`,
    publication: `/api/v1/publications/${ids.publication}`,
    review: `/api/v1/reviews/${ids.review}`,
    reviewRule: `/api/v1/review-rules/${ids.reviewRule}`,
    tracking: '/api/v1/qidian/trackings',
    alert: `/api/v1/qidian/alerts/${ids.alert}`,
    keywords: '/api/v1/qidian/keywords',
    report: `/api/v1/reports/${ids.report}`,
    notifications: '/api/v1/notifications',
    apiKeys: '/api/v1/users/api-keys',
    sessions: '/api/v1/users/sessions',
    order: `/api/v1/payments/orders/${ids.order}`,
    smsKeywords: '/api/v1/sms/keywords',
    orgAccount: `/api/v1/platform-accounts/${ids.orgAccount}`,
    orgWorkflow: `/api/v1/workflows/${ids.orgWorkflow}`,
    orgArticle: `/api/v1/articles/${ids.orgArticle}`,
    organization: `/api/v1/organizations/${ids.organization}`,
    members: `/api/v1/organizations/${ids.organization}/members`,
    invitations: `/api/v1/organizations/${ids.organization}/invitations`,
    roles: `/api/v1/organizations/${ids.organization}/roles`,
  });
  // fields that move on their own (stamps of the request, a review's waiting time)
  const steady = (text: string) => text.replace(/"(timestamp|request_id|waited_seconds)":"?[^,"}]*"?/g, '');

  before(async () => {
    mediaRoot = await mkdtemp(join(tmpdir(), 'cross-tenant-media-'));
    const merchant = generateMerchant();
    payments = await startPaymentSandbox({ merchant: registrationOf(merchant), timeScale: 0.001 });
    // no sms-send worker, no scrape worker: alice's messages, batch, execution and publication stay open to act on
    sms = await startSmsPlatform({
      name: 'cross-tenant',
      worker: false,
      config: {
        MEDIA_STORAGE_URL: `file:${mediaRoot}`,
        SMS_CHARGE_LEDGER: 'false',
        // the walk sends thousands of requests as one user as fast as the machine answers: the per-user rate limit
        // (its own tests: api-rate-limit) would answer 429 on a fast machine where the walk wants the owner check's answer
        API_RATE_LIMIT_PER_USER: '0',
        API_RATE_LIMIT_PER_IP: '0',
        ...platformEnv({ merchant, keys: payments.keys, sandboxUrl: payments.url, notifyBaseUrl: 'http://cross-tenant-api.test' }),
      },
    });
    platform = sms.platform;
    payments.resolve.set('cross-tenant-api.test', platform.url);
    const [a, b, c] = await Promise.all([signUp('alice'), signUp('bob'), signUp('carol')]);
    alice = a;
    bob = { name: 'bob', ...b, role: 'personal user' };
    carol = { name: 'carol', ...c, role: 'owner' };
    // every plan, so that no plan gate answers before the owner check does (carol's are her organization's)
    for (const user of [alice, bob]) {
      await grantPlan(platform.store, user.userId, 'xiaohongshu', 'enterprise');
      await grantPlan(platform.store, user.userId, 'qidian', 'enterprise');
    }
    await alicesResources();
    await alicesNoOps();
    await alicesOrganization();
    carolOrganization = await foundOrganization(carol, 'Carol & Co');
    // each stranger's own article and workflow, to name alice's things in
    for (const stranger of [bob, carol]) {
      const article = await call('POST', '/api/v1/articles', { token: stranger.token, body: { title: `${stranger.name}'s`, body: 'mine' } });
      const workflow = await call('POST', '/api/v1/workflows', {
        token: stranger.token,
        body: { name: `${stranger.name}'s`, type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword: 'tea', maxItems: 5 }, platform_account_id: null },
      });
      expect(article.status, article.text).to.equal(201);
      expect(workflow.status, workflow.text).to.equal(201);
      strangersOwn[stranger.name] = { article: article.body.data.id, workflow: workflow.body.data.id };
    }

    doc = (await call('GET', '/api/v1/openapi.json')).body;
    walkedOps = operations(doc);
    grants = await rbacTable();
    for (const [what, path] of Object.entries(aliceReads())) {
      let read: Answer | undefined;
      await waitFor(`alice reads her ${what}`, async () => (read = await as('GET', path)).status === 200, 10_000, 100);
      readBefore[what] = steady(read!.text);
    }
    eventsBeforeWalks = (await platform.store.readAll({ fromPosition: START, maxCount: 1_000_000 })).length;
  });
  after(async () => {
    await sms?.stop();
    await payments?.stop();
    if (mediaRoot) await rm(mediaRoot, { recursive: true, force: true });
  });

  /** The path parameters of each walked path: alice's ids, or the context they are read in. */
  function parameters(ids: Record<string, string>): Record<string, Record<string, string>> {
    const month = new Date().toISOString().slice(0, 7);
    const standIn = randomUUID();
    const by = (id: string) => ({ id });
    return {
      '/api/v1/users/sessions/{id}': by(ids.session!),
      '/api/v1/services/{service}/plans': { service: 'qidian' },
      '/api/v1/users/api-keys/{id}': by(ids.apiKey!),
      '/api/v1/payments/orders/{id}': by(ids.order!),
      '/api/v1/admin/payments/orders/{id}/refund': by(ids.order!),
      '/api/v1/subscriptions/{id}': by(ids.subscription!),
      '/api/v1/subscriptions/{id}/usage': by(ids.subscription!),
      '/api/v1/subscriptions/{id}/consume': by(ids.subscription!),
      '/api/v1/platform-accounts/{id}': by(ids.account!),
      '/api/v1/platform-accounts/{id}/verify': by(ids.account!),
      '/api/v1/platform-accounts/oauth/{platform}/authorize': { platform: 'baidu' },
      '/api/v1/xiaohongshu/accounts/{id}': by(ids.account!),
      '/api/v1/xiaohongshu/accounts/{id}/verify': by(ids.account!),
      '/api/v1/workflows/executions/{id}': by(ids.execution!),
      '/api/v1/workflows/executions/{id}/cancel': by(ids.execution!),
      '/api/v1/workflows/executions/{id}/results': by(ids.execution!),
      '/api/v1/workflows/{id}': by(ids.workflow!),
      '/api/v1/workflows/{id}/pause': by(ids.workflow!),
      '/api/v1/workflows/{id}/resume': by(ids.workflow!),
      '/api/v1/workflows/{id}/execute': by(ids.workflow!),
      '/api/v1/workflows/{id}/executions': by(ids.workflow!),
      '/api/v1/xiaohongshu/contents/{id}': by(ids.content!),
      '/api/v1/xiaohongshu/messages/outgoing/{id}': by(ids.outgoing!),
      '/api/v1/articles/{id}/publish': by(ids.article!),
      '/api/v1/publications/{id}': by(ids.publication!),
      '/api/v1/publications/{id}/cancel': by(ids.publication!),
      '/api/v1/publications/{id}/unpublish': by(ids.publication!),
      // admin-only (no proxy of alice's exists): a stand-in id, refused before it is looked at
      '/api/v1/proxies/{id}': by(standIn),
      '/api/v1/proxies/{id}/bans': by(standIn),
      '/api/v1/proxies/{id}/bans/{platform}': { id: standIn, platform: 'xiaohongshu' },
      '/api/v1/proxies/{id}/health-checks': by(standIn),
      '/api/v1/proxies/{id}/probe': by(standIn),
      '/api/v1/qidian/trackings/{id}': by(ids.tracking!),
      '/api/v1/qidian/novels/{id}/data': by(ids.novel!),
      '/api/v1/qidian/novels/{id}/data/export': by(ids.novel!),
      '/api/v1/qidian/novels/{id}/trends': by(ids.novel!),
      '/api/v1/qidian/rankings/{type}': { type: '热销榜' },
      '/api/v1/qidian/analytics/author/{author}': { author: ids.author! },
      '/api/v1/qidian/analytics/competitors/{novel_id}': { novel_id: ids.novel! },
      '/api/v1/reports/{id}': by(ids.report!),
      '/api/v1/reports/{id}/run': by(ids.report!),
      '/api/v1/reports/{id}/runs': by(ids.report!),
      '/api/v1/reports/{id}/runs/{run_id}/download': { id: ids.report!, run_id: ids.reportRun! },
      '/api/v1/statistics/exports/{id}': by(ids.statisticsExport!),
      '/api/v1/statistics/exports/{id}/file': by(ids.statisticsExport!),
      '/api/v1/qidian/alerts/{id}': by(ids.alert!),
      '/api/v1/qidian/keywords/{id}': by(ids.keyword!),
      '/api/v1/notifications/{id}/read': by(ids.notification!),
      '/api/v1/review-rules/{id}': by(ids.reviewRule!),
      '/api/v1/reviews/{id}': by(ids.review!),
      '/api/v1/reviews/{id}/claim': by(ids.review!),
      '/api/v1/reviews/{id}/release': by(ids.review!),
      '/api/v1/reviews/{id}/approve': by(ids.review!),
      '/api/v1/reviews/{id}/reject': by(ids.review!),
      '/api/v1/articles/{id}': by(ids.article!),
      '/api/v1/articles/{id}/versions': by(ids.article!),
      '/api/v1/articles/{id}/versions/{version}': { id: ids.article!, version: '1' },
      '/api/v1/media/{id}': by(ids.media!),
      '/api/v1/sms/messages/{id}': by(ids.smsMessage!),
      '/api/v1/sms/batches/{id}': by(ids.smsBatch!),
      '/api/v1/sms/batches/{id}/messages': by(ids.smsBatch!),
      '/api/v1/sms/batches/{id}/cancel': by(ids.smsBatch!),
      '/api/v1/sms/keywords/{keyword}': { keyword: ids.smsKeyword! },
      '/api/v1/organizations/{id}': by(ids.organization!),
      '/api/v1/customers/enterprises/{id}': by(ids.organization!),
      '/api/v1/organizations/{id}/ownership': by(ids.organization!),
      '/api/v1/organizations/{id}/leave': by(ids.organization!),
      '/api/v1/organizations/{id}/members': by(ids.organization!),
      '/api/v1/customers/enterprises/{id}/sending': by(ids.organization!),
      '/api/v1/organizations/{id}/members/{userId}': { id: ids.organization!, userId: ids.user! },
      '/api/v1/organizations/{id}/invitations': by(ids.organization!),
      '/api/v1/organizations/{id}/invitations/{invitationId}': { id: ids.organization!, invitationId: ids.invitation! },
      '/api/v1/organizations/{id}/roles': by(ids.organization!),
      '/api/v1/organizations/{id}/roles/{roleId}': { id: ids.organization!, roleId: ids.role! },
      '/api/v1/invitations/{id}/decline': by(ids.invitation!),
      '/api/v1/ledger/statements/{month}': { month },
      '/api/v1/admin/ledger/{holder_kind}/{holder_id}/credit-limit': { holder_kind: 'user', holder_id: ids.user! },
      '/api/v1/admin/users/{id}': by(ids.user!),
      '/api/v1/admin/users/{id}/suspend': by(ids.user!),
      '/api/v1/admin/users/{id}/reactivate': by(ids.user!),
      '/api/v1/admin/users/{id}/role': by(ids.user!),
      '/api/v1/admin/users/{id}/mfa/reset': by(ids.user!),
      '/api/v1/admin/streams/{stream}/events': { stream: userStream(ids.user!) },
      '/api/v1/admin/streams/{stream}/state': { stream: userStream(ids.user!) },
      '/api/v1/admin/correlations/{correlationId}': { correlationId: ids.user! },
      '/api/v1/admin/projections/{name}': { name: 'users-v1' },
      '/api/v1/admin/projections/{name}/rebuild': { name: 'users-v1' },
      '/api/v1/admin/rebuilds/{jobId}': { jobId: '1' },
      '/api/v1/admin/queues/{name}/pause': { name: 'scrape' },
      '/api/v1/admin/queues/{name}/resume': { name: 'scrape' },
      '/api/v1/admin/queues/{name}/retry-failed': { name: 'scrape' },
      '/api/v1/admin/queues/{name}/jobs/{id}/retry': { name: 'scrape', id: '1' },
      '/api/v1/admin/queues/{name}/jobs/{id}/promote': { name: 'scrape', id: '1' },
      '/api/v1/admin/queues/{name}/jobs/{id}': { name: 'scrape', id: '1' },
      '/api/v1/admin/dead-letters/{id}': { id: '1' },
      '/api/v1/admin/dead-letters/{id}/retry': { id: '1' },
      '/api/v1/admin/dead-letters/{id}/skip': { id: '1' },
    };
  }

  /** Bodies that would change alice's resource, where the minimal one would not (or would not pass validation). */
  function bodies(stranger: Stranger, ids: Record<string, string>): Record<string, unknown> {
    return {
      'PUT /api/v1/subscriptions/{id}': { plan: 'free' },
      'PUT /api/v1/platform-accounts/{id}': { display_name: 'a stranger was here' },
      'PUT /api/v1/xiaohongshu/accounts/{id}': { display_name: 'a stranger was here' },
      'PUT /api/v1/workflows/{id}': { name: 'a stranger was here' },
      'POST /api/v1/articles/{id}/publish': { account_ids: [ids.account] },
      'PUT /api/v1/qidian/trackings/{id}': { title: 'a stranger was here' },
      'PUT /api/v1/reports/{id}': { name: 'a stranger was here' },
      'PUT /api/v1/qidian/alerts/{id}': { kind: 'completion' },
      'PUT /api/v1/review-rules/{id}': { kind: 'banned_phrase', name: 'a stranger was here', phrases: ['bob'] },
      'PUT /api/v1/articles/{id}': { title: 'a stranger was here', body: 'a stranger was here' },
      'PATCH /api/v1/organizations/{id}': { name: 'a stranger was here' },
      'POST /api/v1/organizations/{id}/ownership': { user_id: stranger.userId },
      'PATCH /api/v1/organizations/{id}/members/{userId}': { roles: ['analyst'] },
      'POST /api/v1/organizations/{id}/invitations': { email: stranger.email, roles: ['admin'] },
      'POST /api/v1/organizations/{id}/roles': { name: 'a stranger was here', grants: { 'collection.*.view': 'organization' } },
      'PATCH /api/v1/organizations/{id}/roles/{roleId}': { name: 'a stranger was here' },
      'PUT /api/v1/admin/users/{id}/role': { role: 'admin' },
    };
  }

  /** What tells alice's data in an answer: her ids and address, the names and texts she gave. */
  const aliceSecrets = (): string[] => [...new Set(Object.values(ids)), alice.email, '爱丽丝', 'alice only', 'alice to'];

  /** Path and query of `op` with these parameters (the required query parameters given a fitting value). */
  function target(op: Operation, values: Record<string, string>): string {
    const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name]!));
    const query = op.params
      .filter((p) => p.in === 'query' && p.required)
      .map((p) => `${p.name}=${encodeURIComponent(String(minimal(p.schema, {})))}`)
      .join('&');
    return query ? `${path}?${query}` : path;
  }

  /**
   * One stranger's walk over `set` (alice's ids by what they name), on the operations whose parameters `only` accepts,
   * with these If-Match `variants`; `ownRevision`: a 412 may be theirs (the path names their own organization).
   */
  async function walk(
    stranger: Stranger,
    set: Record<string, string>,
    options: { only?: (values: Record<string, string>) => boolean; variants?: (string | undefined)[]; ownRevision?: boolean } = {},
  ): Promise<{ findings: string[]; walked: string[]; skipped: string[] }> {
    const { only = () => true, variants = [undefined, '"0"', STALE], ownRevision = false } = options;
    const fills = parameters(set);
    const bodyFor = bodies(stranger, set);
    const aliceIds = new Set(Object.values(ids));
    const secrets = aliceSecrets();
    const findings: string[] = [];
    const walked: string[] = [];
    const skipped: string[] = [];
    for (const op of walkedOps) {
      const key = `${op.method} ${op.path}`;
      const values = fills[op.path];
      if (!values) {
        if (SKIPPED[key]) skipped.push(`${key}: ${SKIPPED[key]}`);
        else findings.push(`${key}: neither walked nor listed as skipped (give its parameters in the walk)`);
        continue;
      }
      if (!only(values)) continue;
      walked.push(key);
      const body = op.body ? { ...(minimal(op.body, doc) as object), ...(bodyFor[key] as object | undefined) } : undefined;
      const allowed = grants.get(key)?.[stranger.role];
      if (allowed === undefined && op.auth) findings.push(`${key}: not in the table of docs/rbac.md`);
      const nobodys = Object.fromEntries(
        Object.entries(values).map(([name, value]) => [
          name,
          aliceIds.has(value) ? unknownLike(op.params.find((p) => p.in === 'path' && p.name === name)?.schema, value) : value,
        ]),
      );
      const send = (names: Record<string, string>, method: string, ifMatch: string | undefined) =>
        call(method, target(op, names), { token: stranger.token, ...(body !== undefined ? { body } : {}), ...(ifMatch !== undefined ? { ifMatch } : {}) });
      // plainly, with If-Match "0" and with a stale one (a read also as HEAD); each beside the same request on ids nobody has (at once: all refused)
      const tries = [...variants.map((ifMatch) => ({ method: op.method, ifMatch })), ...(op.method === 'GET' ? [{ method: 'HEAD', ifMatch: undefined }] : [])];
      const answers = await Promise.all(
        tries.map(async ({ method, ifMatch }) => ({
          method,
          ifMatch,
          unknown: await send(nobodys, method, ifMatch),
          reply: await send(values, method, ifMatch),
        })),
      );
      for (const { method, ifMatch, unknown, reply } of answers) {
        if (reply.correlationId) correlations.add(reply.correlationId);
        const as = `${stranger.name}: ${method} ${op.path}${ifMatch ? ` If-Match: ${ifMatch}` : ''}`;
        const said = `${reply.status} ${reply.text.slice(0, 300)}`;
        const leaked = reply.status < 300 ? secrets.filter((secret) => reply.text.includes(secret)) : [];
        if (reply.status >= 500) findings.push(`${as} → ${said}`);
        else if (reply.status === 412 && !ownRevision) findings.push(`${as} → 412 tells a revision of alice's resource: ${said}`);
        else if (NOT_TENANT[key]) {
          if (leaked.length > 0) findings.push(`${as} → alice's data in the answer (${leaked.join(', ')}): ${said}`);
        } else if (allowed === false) {
          if (reply.status !== 403 || (method !== 'HEAD' && reply.body?.error?.details?.reason !== 'role'))
            findings.push(`${as} → expected 403 (role), got ${said}`);
        } else if (shape(reply, values) !== shape(unknown, nobodys)) {
          findings.push(`${as} → differs from an unknown id's answer: ${shape(reply, values)} vs ${shape(unknown, nobodys)}`);
        } else if (reply.status !== 404 && reply.status !== 412) {
          // a 412 here is on the stranger's own organization, as an unknown id gets it too
          findings.push(`${as} → expected 404, got ${said}`);
        }
      }
    }
    return { findings, walked, skipped };
  }

  /** A refusal with the ids it names left out: code, message and details, and the headers that could name a revision or a file. */
  function shape(answer: Answer, names: Record<string, string>): string {
    const error = answer.body?.error;
    const [etag, location, disposition] = ['etag', 'location', 'content-disposition'].map((h) => answer.headers.get(h));
    let text = JSON.stringify({ status: answer.status, code: error?.code, message: error?.message, details: error?.details, etag, location, disposition });
    for (const value of Object.values(names)) text = text.replaceAll(value, '<id>');
    return text;
  }

  it('alice herself reads every one of them (the walk’s ids are real)', async () => {
    // what alice cannot read now either, and why
    const not: Record<string, string> = {
      'GET /api/v1/subscriptions/{id}': 'her own subscription is not hers to read while her organization holds her plans',
      'GET /api/v1/subscriptions/{id}/usage': 'the same',
      'GET /api/v1/statistics/exports/{id}/file': 'the file is made by the reports worker, not running here',
    };
    const fills = parameters(ids);
    const unread: string[] = [];
    for (const op of walkedOps.filter((o) => o.method === 'GET' && fills[o.path] && !NOT_TENANT[`${o.method} ${o.path}`])) {
      const key = `${op.method} ${op.path}`;
      if (not[key] || grants.get(key)?.owner === false) continue;
      const read = await call('GET', target(op, fills[op.path]!), { token: alice.token });
      if (read.status >= 300) unread.push(`${key} → ${read.status} ${read.text.slice(0, 200)}`);
    }
    expect(unread, unread.join('\n')).to.deep.equal([]);
  });

  it('bob, outside any organization, on alice’s ids: 404 as for ids nobody has, or 403 (role) where docs/rbac.md denies a personal user', async () => {
    const { findings, walked, skipped } = await walk(bob, ids);
    expect(findings, findings.join('\n')).to.deep.equal([]);
    expect(walked.length, 'every operation with path parameters but the skipped').to.equal(walkedOps.length - Object.keys(SKIPPED).length);
    expect(skipped).to.have.length(Object.keys(SKIPPED).length);
  });

  it('carol, the owner of another organization, on alice’s ids: 404 as for ids nobody has, or 403 (role) where docs/rbac.md denies an owner', async () => {
    const { findings, walked } = await walk(carol, ids);
    expect(findings, findings.join('\n')).to.deep.equal([]);
    expect(walked.length).to.equal(walkedOps.length - Object.keys(SKIPPED).length);
  });

  it('carol, in her own organization’s paths, on alice’s member, invitation and role: the same', async () => {
    const { findings, walked } = await walk(
      carol,
      { ...ids, organization: carolOrganization },
      { only: (values) => values.id === carolOrganization && Object.keys(values).length > 1, ownRevision: true },
    );
    expect(findings, findings.join('\n')).to.deep.equal([]);
    expect(walked).to.have.length(6);
  });

  it('both, on what alice’s organization owns (account, workflow, image, article, subscription): the same', async () => {
    const owned = {
      ...ids,
      account: ids.orgAccount!,
      workflow: ids.orgWorkflow!,
      media: ids.orgMedia!,
      article: ids.orgArticle!,
      subscription: ids.orgSubscription!,
    };
    const theirs = new Set([ids.orgAccount, ids.orgWorkflow, ids.orgMedia, ids.orgArticle, ids.orgSubscription]);
    for (const stranger of [bob, carol]) {
      const { findings, walked } = await walk(stranger, owned, {
        only: (values) => Object.values(values).some((v) => theirs.has(v)),
        variants: [undefined, STALE],
      });
      expect(findings, findings.join('\n')).to.deep.equal([]);
      expect(walked.length, 'the routes naming one of them').to.be.greaterThan(20);
    }
  });

  it('both, on alice’s resources where a repeat of her own step is a no-op (paused, cancelled, read, revoked, deleted): the same', async () => {
    const noops: Record<string, string> = {
      workflow: 'pausedWorkflow',
      execution: 'cancelledExecution',
      publication: 'cancelledPublication',
      smsBatch: 'cancelledBatch',
      notification: 'readNotification',
      apiKey: 'revokedApiKey',
      session: 'endedSession',
      tracking: 'untrackedTracking',
      alert: 'deletedAlert',
      keyword: 'deletedKeyword',
      reviewRule: 'deletedReviewRule',
      report: 'deletedReport',
      article: 'deletedArticle',
      media: 'deletedMedia',
      account: 'disconnectedAccount',
      smsKeyword: 'releasedSmsKeyword',
      invitation: 'revokedInvitation',
      role: 'deletedRole',
    };
    for (const set of [noops, { workflow: 'deletedWorkflow' }]) {
      const swapped = Object.fromEntries(Object.entries(set).map(([what, other]) => [what, ids[other]!]));
      const theirs = new Set(Object.values(swapped));
      for (const stranger of [bob, carol]) {
        const only = (values: Record<string, string>) => Object.values(values).some((v) => theirs.has(v));
        const { findings, walked } = await walk(stranger, { ...ids, ...swapped }, { only, variants: [undefined, STALE] });
        expect(findings, findings.join('\n')).to.deep.equal([]);
        expect(walked.length).to.be.greaterThan(set === noops ? 40 : 5);
      }
    }
  });

  it('lists, exports and statistics, as each stranger: nothing of alice’s in any answer', async () => {
    const findings: string[] = [];
    const secrets = aliceSecrets();
    const lists = Object.entries<Schema>(doc.paths).filter(([path, item]) => item.get && !path.includes('{') && (item.get.security ?? []).length > 0);
    for (const stranger of [bob, carol]) {
      for (const [path, item] of lists) {
        const query = ((item.get.parameters ?? []) as Schema[])
          .map((p) => resolve(p, doc))
          .filter((p) => p.in === 'query' && (p.required || p.name === 'group_by' || p.name === 'metrics'))
          .map(
            (p) =>
              `${p.name}=${encodeURIComponent(p.name === 'group_by' ? 'day,user,organization,account,workflow' : p.name === 'metrics' ? 'runs_requested,items_collected,publications_published,sms_requested' : String(minimal(p.schema, doc)))}`,
          )
          .join('&');
        const reply = await call('GET', query ? `${path}?${query}` : path, { token: stranger.token });
        if (reply.correlationId) correlations.add(reply.correlationId);
        const leaked = secrets.filter((secret) => reply.text.includes(secret));
        if (reply.status >= 500 || leaked.length > 0)
          findings.push(`${stranger.name}: GET ${path}?${query} → ${reply.status} (${leaked.join(', ')}) ${reply.text.slice(0, 300)}`);
      }
    }
    expect(findings, findings.join('\n')).to.deep.equal([]);
    expect(lists.length).to.be.greaterThan(40);
  });

  it('ids of alice’s in bodies and queries (an account to use, an image to name, a filter): answered as ids nobody has', async () => {
    const findings: string[] = [];
    const secrets = aliceSecrets();
    for (const stranger of [bob, carol]) {
      const own = strangersOwn[stranger.name]!;
      // [method, path naming the id, body naming the id, alice's id]
      const references: [string, (id: string) => string, (id: string) => unknown, string][] = [
        [
          'POST',
          () => '/api/v1/workflows',
          (id) => ({ name: 'x', type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword: 'x', maxItems: 5 }, platform_account_id: id }),
          ids.account!,
        ],
        ['PUT', () => `/api/v1/workflows/${own.workflow}`, (id) => ({ platform_account_id: id }), ids.account!],
        [
          'POST',
          () => '/api/v1/xiaohongshu/contents/collect',
          (id) => ({ config: { mode: 'keyword', keyword: 'x', maxItems: 5 }, platform_account_id: id }),
          ids.account!,
        ],
        [
          'POST',
          () => '/api/v1/xiaohongshu/messages',
          (id) => ({ platform_account_id: id, conversation_id: 'conv_05120851b5504067', text: 'hi' }),
          ids.account!,
        ],
        ['POST', () => `/api/v1/articles/${own.article}/publish`, (id) => ({ account_ids: [id] }), ids.account!],
        ['POST', () => '/api/v1/platform-accounts/batch', (id) => ({ action: 'verify', ids: [id] }), ids.account!],
        ['POST', () => '/api/v1/platform-accounts/batch', (id) => ({ action: 'disconnect', ids: [id] }), ids.account!],
        ['POST', () => '/api/v1/articles', (id) => ({ title: 'x', body: 'x', cover_media_id: id }), ids.media!],
        ['POST', () => '/api/v1/articles', (id) => ({ title: 'x', body: 'x', image_media_ids: [id] }), ids.media!],
        ['PUT', () => `/api/v1/articles/${own.article}`, (id) => ({ title: 'y', body: 'y', cover_media_id: id }), ids.media!],
        ['POST', () => '/api/v1/xiaohongshu/contents/batch-delete', (id) => ({ ids: [id] }), ids.content!],
        ['POST', () => '/api/v1/qidian/trackings/batch', (id) => ({ action: 'untrack', novel_ids: [id] }), ids.novel!],
        ['POST', () => '/api/v1/qidian/trackings/batch', (id) => ({ action: 'update', novel_ids: [id], settings: { notify_on_update: false } }), ids.novel!],
        [
          'POST',
          () => '/api/v1/reports',
          (email) => ({ name: 'x', kind: 'qidian.tracked_novels', format: 'xlsx', schedule: { frequency: 'daily', hour: 9 }, recipients: [email] }),
          alice.email,
        ],
        ['GET', (id) => `/api/v1/publications?article_id=${id}`, () => undefined, ids.article!],
        ['GET', (id) => `/api/v1/publications?account_id=${id}`, () => undefined, ids.account!],
        ['GET', (id) => `/api/v1/xiaohongshu/contents?workflow_id=${id}`, () => undefined, ids.workflow!],
        ['GET', (id) => `/api/v1/xiaohongshu/contents/export?format=json&workflow_id=${id}`, () => undefined, ids.workflow!],
        ['GET', (id) => `/api/v1/xiaohongshu/analytics/overview?workflow_id=${id}`, () => undefined, ids.workflow!],
        ['GET', (id) => `/api/v1/xiaohongshu/conversations?platform_account_id=${id}`, () => undefined, ids.account!],
        ['GET', (id) => `/api/v1/xiaohongshu/messages?platform_account_id=${id}`, () => undefined, ids.account!],
        ['GET', (id) => `/api/v1/xiaohongshu/messages/outgoing?platform_account_id=${id}`, () => undefined, ids.account!],
        ['GET', (id) => `/api/v1/qidian/alerts?novel_id=${id}`, () => undefined, ids.novel!],
      ];
      if (stranger === carol) {
        // alice's organization's custom role, named in carol's own organization
        references.push(
          ['PATCH', () => `/api/v1/organizations/${carolOrganization}/members/${carol.userId}`, (id) => ({ roles: ['owner', id] }), ids.role!],
          [
            'POST',
            () => `/api/v1/organizations/${carolOrganization}/invitations`,
            (id) => ({ email: `x-${randomUUID().slice(0, 8)}@example.test`, roles: [id] }),
            ids.role!,
          ],
        );
      }
      for (const [method, path, body, theirs] of references) {
        const nobodys = /@/.test(theirs) ? `nobody-${randomUUID().slice(0, 8)}@example.test` : unknownLike(undefined, theirs);
        const sent = (id: string) => call(method, path(id), { token: stranger.token, ...(body(id) !== undefined ? { body: body(id) } : {}) });
        const unknown = await sent(nobodys);
        const reply = await sent(theirs);
        if (reply.correlationId) correlations.add(reply.correlationId);
        const what = `${stranger.name}: ${method} ${path('{alice’s}')} ${JSON.stringify(body('{alice’s}') ?? '')}`;
        // the id it named may come back (a batch item names its id); nothing else of alice's may
        const leaked = reply.status < 300 ? secrets.filter((secret) => secret !== theirs && reply.text.includes(secret)) : [];
        const same = (a: Answer, id: string) =>
          JSON.stringify({ status: a.status, error: a.body?.error, data: a.status < 300 ? a.body?.data : undefined })
            .replaceAll(id, '<id>')
            .replace(/"(revision|position|timestamp|request_id|id)":"[^"]*"/g, '');
        if (reply.status >= 500 || leaked.length > 0 || same(reply, theirs) !== same(unknown, nobodys)) {
          findings.push(`${what} → ${same(reply, theirs)}\n   unknown id → ${same(unknown, nobodys)}`);
        }
      }
    }
    expect(findings, findings.join('\n')).to.deep.equal([]);
  });

  it('none of the walks wrote an event, and alice reads every resource as before', async () => {
    expect(correlations.size).to.be.greaterThan(800);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const since = (await platform.store.readAll({ fromPosition: START, maxCount: 1_000_000 })).slice(eventsBeforeWalks);
    const strangers = new Set([bob.userId, carol.userId]);
    const caused = since.filter((e) => strangers.has(String(e.metadata.userId)) || correlations.has(String(e.metadata.$correlationId)));
    expect(
      caused.map((e) => `${e.type} on ${e.streamName}`),
      'events the strangers caused',
    ).to.deep.equal([]);
    for (const [what, path] of Object.entries(aliceReads())) {
      const read = await call('GET', path, { token: alice.token });
      expect(read.status, `${what}: ${read.text}`).to.equal(200);
      expect(steady(read.text), what).to.equal(readBefore[what]);
    }
  });
});
