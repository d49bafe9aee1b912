import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { fastAppendStatement } from '../../src/adapters/event-store/postgres/append.js';
import type { EventData, Json } from '../../src/event-store/index.js';
import { quotaDay } from '../../src/application/quota-day.js';
import type { Aggregate } from '../../src/write-model/core/aggregate.js';
import type { DomainEvent } from '../../src/write-model/core/decider.js';
import { SCHEMA_VERSION } from '../../src/write-model/core/event-codec.js';
import { notificationAggregate, type NotificationCommand } from '../../src/write-model/notification/index.js';
import { novelTrackingAggregate, type NovelTrackingCommand } from '../../src/write-model/novel-tracking/index.js';
import { paymentOrderAggregate, type PaymentOrderCommand } from '../../src/write-model/payment-order/index.js';
import { platformAccountAggregate, type PlatformAccountCommand } from '../../src/write-model/platform-account/index.js';
import { proxyHealthAggregate, proxyHealthDayId, type RecordProxyObservation } from '../../src/write-model/proxy-health/index.js';
import { proxyAggregate, type ProxyCommand } from '../../src/write-model/proxy/index.js';
import { sessionAggregate, type SessionCommand } from '../../src/write-model/session/index.js';
import { subscriptionUsageAggregate, dailyUsageId, type SubscriptionUsageCommand } from '../../src/write-model/subscription-usage/index.js';
import { quotaTermsOf, subscriptionAggregate, subscriptionKey, type SubscriptionCommand } from '../../src/write-model/subscription/index.js';
import { emailReservationAggregate, userAggregate, userStanding, type UserCommand } from '../../src/write-model/user/index.js';
import type { CollectedItem, WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { workflowExecutionAggregate } from '../../src/write-model/workflow-execution/index.js';
import { workflowAggregate, type WorkflowCommand } from '../../src/write-model/workflow/index.js';

/**
 * A realistic history of the platform, written once with the events the real
 * deciders decide (each stream's commands decided on the state folded so far,
 * a refused command skipped) and the Postgres store's own append statement
 * (each stream in one append, several users' streams to a transaction: the
 * store's grouped appends, without waiting for callers one by one). Per user, over DAYS days: a registration (and its
 * email reservation), profile edits, logins (a session stream each: start,
 * refreshes, logout), a subscription per service with daily quota use (a
 * usage stream per day, refusals included), a paid upgrade for some, a
 * connected platform account (invalidated and reconnected for some), one
 * workflow (Xiaohongshu notes or Qidian rankings) with scheduled executions
 * that collect items, tracked novels for the Qidian users, notifications.
 * Beside them a proxy pool with hourly health observations.
 *
 * Deterministic in shape (a seeded generator); ids are random.
 */

export const DAYS = 30;
const START = Date.UTC(2026, 8, 1); // 2026-09-01
const TIME_ZONE = 'Asia/Shanghai';
const PASSWORD_HASH = '$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$YmVuY2hoYXNo';
const SEALED = { keyId: 'bench', iv: 'aXY=', tag: 'dGFn', ciphertext: 'Y2lwaGVy' };
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const at = (day: number, minutes = 0) => new Date(START + day * 86_400_000 + minutes * 60_000).toISOString();

/** mulberry32: the same shape of history every time. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HistoryOptions {
  users: number;
  proxies: number;
  /** transactions of appends in flight at once */
  concurrency: number;
  onProgress?: (events: number) => void;
}

/** One stream's events, decided and waiting to be appended. */
interface PlannedAppend {
  stream: string;
  events: EventData[];
}

/** Where a user's (or the proxy pool's) streams are gathered before they are appended together. */
type Plan = PlannedAppend[];

/** Decides a stream's commands in order (a refused command is skipped) and plans its append; answers the folded state. */
function planStream<State, Command, Event extends DomainEvent>(
  plan: Plan,
  aggregate: Aggregate<State, Command, Event>,
  id: string,
  commands: Iterable<Command>,
): { events: number; state: State } {
  let state = aggregate.decider.initialState();
  const events: Event[] = [];
  for (const command of commands) {
    let decided: Event[];
    try {
      decided = aggregate.decider.decide(command, state);
    } catch {
      continue; // refused: the real caller would have been answered with an error
    }
    for (const event of decided) state = aggregate.decider.evolve(state, event);
    events.push(...decided);
  }
  if (events.length > 0) {
    plan.push({
      stream: aggregate.streamName(id),
      events: events.map((event) => ({
        id: randomUUID(),
        type: event.type,
        data: event.data as Json,
        metadata: { $correlationId: 'bench-rebuild', $causationId: 'bench-rebuild', userId: 'bench', [SCHEMA_VERSION]: aggregate.events.version(event.type) },
      })),
    });
  }
  return { events: events.length, state };
}

function xiaohongshuNote(owner: number, n: number, day: number, rnd: () => number): CollectedItem {
  const noteId = sha(`note-${owner % 500}-${n}`).slice(0, 24);
  return {
    platformContentId: noteId,
    kind: 'xiaohongshu.note',
    data: {
      noteId,
      type: rnd() < 0.2 ? 'video' : 'normal',
      title: `露营装备清单 ${n}`,
      text: `周末露营的第 ${n} 篇笔记，装备和路线都在这里。`,
      author: { id: `author-${n % 97}`, nickname: `作者${n % 97}` },
      publishedAt: at(Math.max(0, day - 3)),
      likes: Math.floor(rnd() * 5000) + day,
      comments: Math.floor(rnd() * 300),
      shares: Math.floor(rnd() * 100),
      collects: Math.floor(rnd() * 800),
      images: [`https://sns-img.example.test/${noteId}/1.jpg`],
      tags: ['露营', '户外'],
      location: rnd() < 0.5 ? '杭州' : null,
      url: `https://www.xiaohongshu.com/explore/${noteId}`,
    },
  };
}

const RANKINGS = ['热销榜', '收藏榜', '推荐榜'] as const;

function qidianItems(day: number, hour: number, rnd: () => number): CollectedItem[] {
  const capturedAt = at(day, hour * 60 + 2);
  const ranking = RANKINGS[hour % RANKINGS.length]!;
  const entries: CollectedItem[] = Array.from({ length: 10 }, (_, i) => {
    const novelId = String(1_000_000 + ((i * 7 + day) % 60));
    return {
      platformContentId: `${ranking}:${novelId}`,
      kind: 'qidian.ranking_entry',
      data: {
        ranking,
        rank: i + 1,
        novelId,
        title: `小说${novelId}`,
        author: `作者${novelId.slice(-2)}`,
        category: '玄幻',
        subCategory: null,
        status: 'serializing',
        score: Math.round(rnd() * 10_000) / 10,
        scoreLabel: null,
        capturedAt,
      },
    };
  });
  const novelId = String(1_000_000 + Math.floor(rnd() * 60));
  entries.push({
    platformContentId: novelId,
    kind: 'qidian.novel_snapshot',
    data: {
      novelId,
      title: `小说${novelId}`,
      author: `作者${novelId.slice(-2)}`,
      category: '玄幻',
      wordCount: 100_000 + day * 6_000,
      chapters: 40 + day * 2,
      status: 'serializing',
      stats: { clicks: 1_000 + day * 50, recommendations: 300 + day, collections: 500 + day * 3, monthlyTickets: day * 2 },
      lastUpdatedAt: capturedAt,
      capturedAt,
    },
  });
  return entries;
}

/** Every stream of one user, in the order the real system would have written them (the user first). */
function planUser(plan: Plan, index: number, proxyIds: readonly string[]): number {
  const rnd = random(index + 1);
  const userId = randomUUID();
  const email = `user${index}@bench.test`;
  const joined = Math.floor(rnd() * 5);
  let events = 0;
  const add = (r: { events: number }) => (events += r.events);

  add(planStream(plan, emailReservationAggregate, sha(email), [{ type: 'ReserveEmail', emailHash: sha(email), userId }]));
  const userCommands: UserCommand[] = [
    { type: 'RegisterUser', userId, email, passwordHash: PASSWORD_HASH, displayName: `用户${index}`, role: 'user', now: at(joined) },
  ];
  for (let e = 1; e <= 2; e++)
    userCommands.push({ type: 'UpdateProfile', userId, displayName: `用户${index}-${e}`, timezone: TIME_ZONE, now: at(joined + e * 5, 30) });
  const user = planStream(plan, userAggregate, userId, userCommands);
  add(user);
  const standing = userStanding(user.state);

  // logins: a session stream each
  const sessions = 5 + Math.floor(rnd() * 3);
  for (let s = 0; s < sessions; s++) {
    const sessionId = randomUUID();
    const day = joined + Math.floor(((DAYS - joined - 1) * s) / sessions);
    const t = (m: number) => at(day, 8 * 60 + m);
    const commands: SessionCommand[] = [
      { type: 'StartSession', userId, sessionId, refreshTokenHash: sha(`${sessionId}-0`), expiresAt: at(day + 30), user: standing, now: t(0) },
    ];
    for (let r = 1; r <= 2; r++) {
      commands.push({
        type: 'RefreshSession',
        userId,
        sessionId,
        presentedTokenHash: sha(`${sessionId}-${r - 1}`),
        newTokenHash: sha(`${sessionId}-${r}`),
        newExpiresAt: at(day + 30, r),
        user: standing,
        now: t(r * 20),
      });
    }
    if (s < sessions - 1) commands.push({ type: 'EndSession', userId, sessionId, reason: 'logout', now: t(90) });
    add(planStream(plan, sessionAggregate, sessionId, commands));
  }

  // a subscription per service; a third of the users pay for pro on the main one
  const main = index % 3 === 0 ? 'qidian' : 'xiaohongshu';
  const paid = rnd() < 0.3;
  const terms = new Map<string, ReturnType<typeof quotaTermsOf>>();
  for (const service of ['xiaohongshu', 'qidian'] as const) {
    const commands: SubscriptionCommand[] = [{ type: 'StartSubscription', subscriptionId: randomUUID(), userId, service, plan: 'free', now: at(joined, 1) }];
    if (service === main && paid) {
      const orderId = randomUUID();
      const payment: PaymentOrderCommand[] = [
        {
          type: 'CreatePaymentOrder',
          orderId,
          userId,
          service,
          plan: 'pro',
          billingCycle: 'monthly',
          amountFen: 29_900,
          provider: 'alipay',
          expiresAt: at(joined + 1, 2 * 60),
          now: at(joined + 1, 60),
        },
        {
          type: 'ConfirmPayment',
          orderId,
          provider: 'alipay',
          providerTradeNo: `T${index}`,
          paidAmountFen: 29_900,
          paidAt: at(joined + 1, 61),
          now: at(joined + 1, 61),
        },
      ];
      add(planStream(plan, paymentOrderAggregate, orderId, payment));
      commands.push({ type: 'ChangePlan', plan: 'pro', orderId, periodEnd: at(joined + 32), now: at(joined + 1, 62) });
    }
    if (service === main) {
      const { day, resetsAt } = quotaDay(new Date(at(joined, 2)), TIME_ZONE);
      commands.push({ type: 'ReserveResource', feature: 'account_limit', resourceId: `account-${index}`, day, resetsAt, now: at(joined, 2) });
      commands.push({ type: 'ReserveResource', feature: 'automation_workflows', resourceId: `workflow-${index}`, day, resetsAt, now: at(joined, 3) });
    }
    const subscription = planStream(plan, subscriptionAggregate, subscriptionKey(userId, service), commands);
    add(subscription);
    terms.set(service, quotaTermsOf(subscription.state));
  }

  // quota use: a usage stream per active day (API calls through the day; the free plan runs out now and then)
  const usageDays = 10 + Math.floor(rnd() * 5);
  for (let u = 0; u < usageDays; u++) {
    const when = new Date(at(joined + Math.floor(((DAYS - joined - 1) * u) / usageDays), 10 * 60));
    const { day, resetsAt } = quotaDay(when, TIME_ZONE);
    const commands: SubscriptionUsageCommand[] = Array.from({ length: 2 }, (_, c) => ({
      type: 'ConsumeQuota',
      subscription: terms.get(main)!,
      feature: 'daily_api_calls',
      amount: 20 + Math.floor(rnd() * 40),
      day,
      resetsAt,
      now: new Date(when.getTime() + c * 3_600_000).toISOString(),
    }));
    add(planStream(plan, subscriptionUsageAggregate, dailyUsageId(userId, main, day), commands));
  }

  // the platform account the workflow collects through
  const accountId = randomUUID();
  const account: PlatformAccountCommand[] = [
    {
      type: 'ConnectPlatformAccount',
      accountId,
      ownerId: userId,
      platform: main,
      platformUserId: null,
      displayName: `账号${index}`,
      credentials: SEALED,
      now: at(joined, 5),
    },
    {
      type: 'VerifyAccount',
      accountId,
      requestedBy: userId,
      outcome: { ok: true, platformUserId: `p-${index}`, nickname: `昵称${index}` },
      now: at(joined, 6),
    },
  ];
  if (rnd() < 0.2) {
    account.push({ type: 'InvalidateAccount', accountId, requestedBy: null, reason: 'login_wall', now: at(joined + 9) });
    account.push({ type: 'RotateAccountCredentials', accountId, requestedBy: userId, credentials: { ...SEALED, iv: 'aXYy' }, now: at(joined + 9, 30) });
    account.push({
      type: 'VerifyAccount',
      accountId,
      requestedBy: userId,
      outcome: { ok: true, platformUserId: `p-${index}`, nickname: `昵称${index}` },
      now: at(joined + 9, 31),
    });
  }
  add(planStream(plan, platformAccountAggregate, accountId, account));

  // one workflow; scheduled runs that collect
  const workflowId = randomUUID();
  const workflowType = main === 'qidian' ? 'qidian.rankings' : 'xiaohongshu.notes';
  const config = main === 'qidian' ? { rankings: ['热销榜'] } : { keyword: '露营', maxItems: 10 };
  const workflow: WorkflowCommand[] = [
    {
      type: 'CreateWorkflow',
      workflowId,
      ownerId: userId,
      platform: main,
      workflowType,
      name: `工作流${index}`,
      config,
      platformAccountId: accountId,
      schedule: { kind: 'cron', expression: '0 * * * *' },
      now: at(joined, 7),
    },
  ];
  if (!paid) {
    workflow.push({ type: 'PauseWorkflow', workflowId, reason: 'quota_exceeded', requestedBy: null, until: at(joined + 12), now: at(joined + 11, 900) });
    workflow.push({ type: 'ResumeWorkflow', workflowId, requestedBy: null, reason: 'quota_exceeded', now: at(joined + 12) });
  }
  add(planStream(plan, workflowAggregate, workflowId, workflow));

  const runs = 7;
  for (let r = 0; r < runs; r++) {
    const executionId = randomUUID();
    const day = joined + 1 + Math.floor(((DAYS - joined - 2) * r) / runs);
    const hour = (index + r) % 24;
    const t = (m: number) => at(day, hour * 60 + m);
    const items: CollectedItem[] =
      main === 'qidian' ? qidianItems(day, hour, rnd) : Array.from({ length: 10 }, (_, i) => xiaohongshuNote(index, (r * 3 + i) % 40, day, rnd));
    const proxyId = proxyIds[(index + r) % proxyIds.length]!;
    const commands: WorkflowExecutionCommand[] = [
      {
        type: 'RequestExecution',
        executionId,
        workflowId,
        ownerId: userId,
        platform: main,
        workflowType,
        config,
        platformAccountId: accountId,
        trigger: 'schedule',
        requestedBy: null,
        now: t(0),
      },
      { type: 'AssignProxy', executionId, proxyId, leaseId: `lease-${executionId.slice(0, 8)}`, reason: 'initial', now: t(0) },
      { type: 'StartExecution', executionId, workerId: 'worker-1', now: t(1) },
      { type: 'CollectItems', executionId, batchId: 'page-1', items, cursor: null, now: t(2) },
      r % 10 === 9 ? { type: 'FailExecution', executionId, reason: 'HTTP 429', now: t(3) } : { type: 'CompleteExecution', executionId, now: t(3) },
    ];
    add(planStream(plan, workflowExecutionAggregate, executionId, commands));
  }

  if (main === 'qidian') {
    for (let n = 0; n < 3; n++) {
      const trackingId = randomUUID();
      const tracking: NovelTrackingCommand[] = [
        {
          type: 'TrackNovel',
          trackingId,
          userId,
          novelId: String(1_000_000 + ((index + n * 13) % 60)),
          title: null,
          settings: { notifyOnUpdate: true, notifyOnCompletion: true, wordCountThreshold: null },
          now: at(joined, 8 + n),
        },
      ];
      add(planStream(plan, novelTrackingAggregate, trackingId, tracking));
    }
  }

  // notifications: sent, mailed, mostly read
  const notifications = 2 + Math.floor(rnd() * 2);
  for (let n = 0; n < notifications; n++) {
    const notificationId = randomUUID();
    const day = joined + 2 + n * 7;
    const commands: NotificationCommand[] = [
      {
        type: 'Notify',
        userId,
        notificationId,
        kind: n % 2 ? 'execution_failed' : 'quota_exceeded',
        title: '通知',
        body: '您的每日额度已用完。',
        data: { feature: 'daily_api_calls' },
        now: at(day, 600),
      },
      { type: 'RecordNotificationEmailed', notificationId, messageId: `<${notificationId}@bench>`, now: at(day, 601) },
    ];
    if (rnd() < 0.7) commands.push({ type: 'MarkNotificationRead', notificationId, requestedBy: userId, now: at(day, 700) });
    add(planStream(plan, notificationAggregate, notificationId, commands));
  }
  return events;
}

/** The proxy pool: registered, then an observation an hour per proxy (a stream per proxy and day, 1 in 40 failing). */
function planProxies(plan: Plan, count: number): { ids: string[]; events: number } {
  const ids = Array.from({ length: count }, () => randomUUID());
  let events = 0;
  for (const [i, proxyId] of ids.entries()) {
    const register: ProxyCommand = {
      type: 'RegisterProxy',
      proxyId,
      host: `10.0.${Math.floor(i / 250)}.${i % 250}`,
      port: 8000 + i,
      protocol: 'http',
      credentials: SEALED,
      country: 'CN',
      region: null,
      provider: 'bench',
      registeredBy: 'admin',
      now: at(0),
    };
    events += planStream(plan, proxyAggregate, proxyId, [register]).events;
  }
  for (const proxyId of ids) {
    let carried: RecordProxyObservation['carried'] = null;
    for (let day = 0; day < DAYS; day++) {
      const name = at(day).slice(0, 10).replaceAll('-', '');
      const commands: RecordProxyObservation[] = [];
      let failures = 0;
      let successes = 0;
      for (let h = 0; h < 24; h++) {
        const ok = (day * 24 + h) % 40 !== 39;
        const now = at(day, h * 60);
        commands.push({
          type: 'RecordProxyObservation',
          proxyId,
          day: name,
          source: 'probe',
          ok,
          latencyMs: ok ? 60 + h : null,
          error: ok ? null : 'timeout',
          carried: h === 0 ? carried : null,
          now,
        });
        failures = ok ? 0 : failures + 1;
        successes = ok ? successes + 1 : 0;
        if (h === 23) carried = { consecutiveFailures: failures, consecutiveSuccesses: successes, checkedAt: now };
      }
      events += planStream(plan, proxyHealthAggregate, proxyHealthDayId(proxyId, name), commands).events;
    }
  }
  return { ids, events };
}

/** Appends planned streams in one transaction, each with the store's own append statement. */
async function appendPlan(pool: pg.Pool, plan: Plan): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const append of plan) await client.query(fastAppendStatement(append.stream, append.events, 'no_stream'));
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Writes the history: the proxy pool, then the users, USERS_PER_TRANSACTION
 * users' streams to a transaction (each stream appended with the store's
 * append statement, expecting no stream), `concurrency` transactions at once.
 */
export async function writeHistory(connectionString: string, options: HistoryOptions): Promise<number> {
  const pool = new pg.Pool({ connectionString, max: options.concurrency });
  try {
    const proxyPlan: Plan = [];
    const proxies = planProxies(proxyPlan, options.proxies);
    for (let i = 0; i < proxyPlan.length; i += 500) await appendPlan(pool, proxyPlan.slice(i, i + 500));
    let events = proxies.events;
    options.onProgress?.(events);
    let next = 0;
    const worker = async () => {
      while (next < options.users) {
        const plan: Plan = [];
        const first = next;
        next = Math.min(options.users, next + USERS_PER_TRANSACTION);
        let planned = 0;
        for (let index = first; index < next; index++) planned += planUser(plan, index, proxies.ids);
        await appendPlan(pool, plan);
        events += planned;
        options.onProgress?.(events);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    return events;
  } finally {
    await pool.end();
  }
}

const USERS_PER_TRANSACTION = 20;
