import { createHash, randomUUID } from 'node:crypto';
import { consumeQuota, loadQuotaSubject } from '../../src/application/subscription-quotas.js';
import { recordObservation } from '../../src/application/proxy-observations.js';
import { contextFromRequest } from '../../src/write-model/core/command-context.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { notificationAggregate, type NotificationCommand } from '../../src/write-model/notification/index.js';
import { platformAccountAggregate, type PlatformAccountCommand } from '../../src/write-model/platform-account/index.js';
import { proxyHealthAggregate, proxyHealthDayId, utcDay } from '../../src/write-model/proxy-health/decider.js';
import type { RecordProxyObservation } from '../../src/write-model/proxy-health/commands.js';
import { proxyAggregate, type ProxyCommand } from '../../src/write-model/proxy/index.js';
import { sessionAggregate, type SessionCommand } from '../../src/write-model/session/index.js';
import { subscriptionAggregate, subscriptionKey, type SubscriptionCommand } from '../../src/write-model/subscription/index.js';
import { subscriptionUsageAggregate, dailyUsageId } from '../../src/write-model/subscription-usage/decider.js';
import type { SubscriptionUsageCommand } from '../../src/write-model/subscription-usage/commands.js';
import { quotaTermsOf } from '../../src/write-model/subscription/quota-terms.js';
import { userAggregate, userStanding, type UserCommand } from '../../src/write-model/user/index.js';
import { requestExecution } from '../../src/application/workflows.js';
import { workflowAggregate, type WorkflowCommand } from '../../src/write-model/workflow/index.js';
import { workflowExecutionAggregate, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { quotaDay } from '../../src/application/quota-day.js';
import { at, writeHistory } from './history.js';
import type { AgingContext, Scenario } from './scenario.js';

const DAYS = 365;
const context = contextFromRequest({ requestId: 'bench-aging' });
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const PASSWORD_HASH = '$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$YmVuY2hoYXNo';
const SEALED = { keyId: 'bench', iv: 'aXY=', tag: 'dGFn', ciphertext: 'Y2lwaGVy' };
const TIME_ZONE = 'Asia/Shanghai';

/** The year before `now`: day 0 is a year ago. */
const yearStart = (c: AgingContext) => new Date(c.now.getTime() - DAYS * 86_400_000);

// ------------------------------------------------------------------ user: login

function* userYear(userId: string, start: Date): Generator<UserCommand> {
  yield { type: 'RegisterUser', userId, email: `${userId}@bench.test`, passwordHash: PASSWORD_HASH, displayName: 'Bench', role: 'user', now: at(start, 0) };
  for (let day = 1; day < DAYS; day++) {
    if (day % 7 === 0) yield { type: 'UpdateProfile', userId, displayName: `Bench ${day}`, now: at(start, day, 60) };
    if (day % 90 === 0) {
      yield { type: 'RequestPasswordReset', userId, resetTokenHash: sha(`reset-${day}`), expiresAt: at(start, day, 90), now: at(start, day, 61) };
      yield { type: 'ResetPassword', userId, resetTokenHash: sha(`reset-${day}`), newPasswordHash: `${PASSWORD_HASH}${day}`, now: at(start, day, 62) };
    }
  }
}

/** A year of 10 logins a day, each its own session stream with a few refreshes and a logout. */
async function sessionsOfYear(c: AgingContext, userId: string, start: Date): Promise<number> {
  const { state } = await load(c.store, userAggregate, userId);
  let events = 0;
  for (let day = 0; day < DAYS; day++) {
    for (let login = 0; login < 10; login++) {
      const sessionId = randomUUID();
      const t = (m: number) => at(start, day, login * 60 + m);
      const commands: SessionCommand[] = [
        {
          type: 'StartSession',
          userId,
          sessionId,
          refreshTokenHash: sha(`${sessionId}-0`),
          expiresAt: at(start, day + 30),
          user: userStanding(state),
          now: t(0),
        },
      ];
      for (let r = 1; r <= 3; r++) {
        commands.push({
          type: 'RefreshSession',
          userId,
          sessionId,
          presentedTokenHash: sha(`${sessionId}-${r - 1}`),
          newTokenHash: sha(`${sessionId}-${r}`),
          newExpiresAt: at(start, day + 30, r),
          user: userStanding(state),
          now: t(r * 15),
        });
      }
      commands.push({ type: 'EndSession', userId, sessionId, reason: 'logout', now: t(59) });
      events += await writeHistory(c.store, sessionAggregate, sessionId, commands);
    }
  }
  return events;
}

const userLogin: Scenario<{ userId: string }> = {
  aggregate: 'user (sessions)',
  command: 'login: load the user, start a session',
  history: 'registration, a profile update a week, a password reset a quarter, 10 logins a day (each a session stream: start, 3 refreshes, logout)',
  async prepare(c, aged) {
    const userId = randomUUID();
    const start = yearStart(c);
    let events = await writeHistory(c.store, userAggregate, userId, aged ? userYear(userId, start) : [userYear(userId, start).next().value as UserCommand]);
    if (aged) events += await sessionsOfYear(c, userId, start);
    return { target: { userId }, events };
  },
  async run(c, { userId }) {
    const { state } = await load(c.store, userAggregate, userId);
    const sessionId = randomUUID();
    const now = new Date();
    await handle(
      c.store,
      sessionAggregate,
      sessionId,
      {
        type: 'StartSession',
        userId,
        sessionId,
        refreshTokenHash: sha(sessionId),
        expiresAt: new Date(now.getTime() + 30 * 86_400_000).toISOString(),
        user: userStanding(state),
        now: now.toISOString(),
      },
      { context },
    );
  },
};

// ------------------------------------------------------------------ session: refresh

interface RefreshTarget {
  userId: string;
  sessionId: string;
  generation: number;
}

const sessionRefresh: Scenario<RefreshTarget> = {
  aggregate: 'session',
  command: 'refresh: rotate the refresh token',
  history: 'a session kept alive around the clock: a refresh every 15 minutes for 30 days (2,880 refreshes, the most a refresh-token lifetime allows)',
  async prepare(c, aged) {
    const userId = randomUUID();
    const sessionId = randomUUID();
    // an aged session began 30 days ago; a fresh one an hour ago
    const start = new Date(c.now.getTime() - (aged ? 30 * 86_400_000 : 3_600_000));
    let events = await writeHistory(c.store, userAggregate, userId, [userYear(userId, start).next().value as UserCommand]);
    const { state } = await load(c.store, userAggregate, userId);
    const refreshes = aged ? 2_880 : 0;
    const commands: SessionCommand[] = [
      {
        type: 'StartSession',
        userId,
        sessionId,
        refreshTokenHash: sha(`${sessionId}-0`),
        expiresAt: at(start, 30),
        user: userStanding(state),
        now: at(start, 0),
      },
    ];
    for (let r = 1; r <= refreshes; r++) {
      commands.push({
        type: 'RefreshSession',
        userId,
        sessionId,
        presentedTokenHash: sha(`${sessionId}-${r - 1}`),
        newTokenHash: sha(`${sessionId}-${r}`),
        newExpiresAt: at(start, 30, r * 15),
        user: userStanding(state),
        now: at(start, 0, r * 15 - 1),
      });
    }
    events += await writeHistory(c.store, sessionAggregate, sessionId, commands);
    return { target: { userId, sessionId, generation: refreshes }, events };
  },
  async run(c, target) {
    const { state } = await load(c.store, userAggregate, target.userId);
    const now = new Date();
    const next = target.generation + 1;
    await handle(
      c.store,
      sessionAggregate,
      target.sessionId,
      {
        type: 'RefreshSession',
        userId: target.userId,
        sessionId: target.sessionId,
        presentedTokenHash: sha(`${target.sessionId}-${target.generation}`),
        newTokenHash: sha(`${target.sessionId}-${next}`),
        newExpiresAt: new Date(now.getTime() + 30 * 86_400_000).toISOString(),
        user: userStanding(state),
        now: now.toISOString(),
      },
      { context },
    );
    target.generation = next;
  },
};

// ------------------------------------------------------------------ subscription: quota use

const USES_PER_DAY = Number(process.env.BENCH_AGING_USES_PER_DAY ?? 5_000);

function* subscriptionYear(userId: string, start: Date): Generator<SubscriptionCommand> {
  yield { type: 'StartSubscription', subscriptionId: randomUUID(), userId, service: 'xiaohongshu', plan: 'free', now: at(start, 0) };
  yield { type: 'ChangePlan', plan: 'pro', orderId: 'order-0', periodEnd: at(start, 31), now: at(start, 0, 5) };
  for (let month = 0; month < 12; month++) {
    if (month > 0) yield { type: 'RenewSubscription', orderId: `order-${month}`, periodEnd: at(start, 31 * (month + 1)), now: at(start, 31 * month - 1) };
    const { day, resetsAt } = quotaDay(new Date(at(start, 31 * month, 10)), TIME_ZONE);
    yield { type: 'ReserveResource', feature: 'account_limit', resourceId: `account-${month}`, day, resetsAt, now: at(start, 31 * month, 10) };
    if (month % 2 === 1) yield { type: 'ReleaseResource', feature: 'account_limit', resourceId: `account-${month - 1}`, now: at(start, 31 * month, 11) };
  }
}

const subscriptionConsume: Scenario<{ userId: string }> = {
  aggregate: 'subscription (quota use)',
  command: 'consume 1 api call: load the plan, count it in the day',
  history: `free → pro, 11 renewals, account reservations and releases; ${USES_PER_DAY.toLocaleString('en-US')} quota uses a day for a year (a stream per day), half a day of them today`,
  async prepare(c, aged) {
    const userId = randomUUID();
    const start = yearStart(c);
    const key = subscriptionKey(userId, 'xiaohongshu');
    let events = await writeHistory(
      c.store,
      subscriptionAggregate,
      key,
      aged
        ? subscriptionYear(userId, start)
        : [
            { type: 'StartSubscription', subscriptionId: randomUUID(), userId, service: 'xiaohongshu', plan: 'free', now: at(start, 0) },
            { type: 'ChangePlan', plan: 'pro', orderId: 'order-0', periodEnd: at(start, DAYS + 31), now: at(start, 0, 5) },
          ],
    );
    if (aged) {
      const { state } = await load(c.store, subscriptionAggregate, key);
      const terms = quotaTermsOf(state);
      const today = quotaDay(c.now, TIME_ZONE).day;
      for (let day = 1; day <= DAYS; day++) {
        const when = new Date(start.getTime() + day * 86_400_000);
        const { day: quota, resetsAt } = quotaDay(when, TIME_ZONE);
        const uses = quota === today ? USES_PER_DAY / 2 : USES_PER_DAY;
        const commands = function* (): Generator<SubscriptionUsageCommand> {
          for (let i = 0; i < uses; i++)
            yield { type: 'ConsumeQuota', subscription: terms, feature: 'daily_api_calls', amount: 1, day: quota, resetsAt, now: when.toISOString() };
        };
        events += await writeHistory(c.store, subscriptionUsageAggregate, dailyUsageId(userId, 'xiaohongshu', quota), commands());
        if (quota === today) break;
      }
    }
    return { target: { userId }, events };
  },
  async run(c, { userId }) {
    const call = { store: c.store, userId, service: 'xiaohongshu' as const, now: new Date(), timeZone: TIME_ZONE, context };
    const subject = await loadQuotaSubject(c.store, userId, 'xiaohongshu');
    await consumeQuota(call, 'daily_api_calls', 1, { subject });
  },
};

// ------------------------------------------------------------------ notifications

const notificationNotify: Scenario<{ userId: string }> = {
  aggregate: 'notifications',
  command: 'notify, then mark it read',
  history: '50 notifications a day for a year (a stream each: sent, read, most mailed)',
  async prepare(c, aged) {
    const userId = randomUUID();
    const start = yearStart(c);
    let events = 0;
    for (let day = 0; aged && day < DAYS; day++) {
      for (let n = 0; n < 50; n++) {
        const notificationId = randomUUID();
        const now = at(start, day, n * 20);
        const commands: NotificationCommand[] = [
          {
            type: 'Notify',
            userId,
            notificationId,
            kind: 'quota_exceeded',
            title: 'Quota used up',
            body: 'Your daily quota is used up.',
            data: { feature: 'daily_api_calls' },
            now,
          },
          { type: 'RecordNotificationEmailed', notificationId, messageId: `<${notificationId}@bench>`, now },
          { type: 'MarkNotificationRead', notificationId, requestedBy: userId, now: at(start, day, n * 20 + 5) },
        ];
        events += await writeHistory(c.store, notificationAggregate, notificationId, commands);
      }
    }
    return { target: { userId }, events };
  },
  async run(c, { userId }) {
    const notificationId = randomUUID();
    const now = new Date().toISOString();
    await handle(
      c.store,
      notificationAggregate,
      notificationId,
      { type: 'Notify', userId, notificationId, kind: 'quota_exceeded', title: 'Quota used up', body: 'Your daily quota is used up.', data: {}, now },
      { context },
    );
    await handle(c.store, notificationAggregate, notificationId, { type: 'MarkNotificationRead', notificationId, requestedBy: userId, now }, { context });
  },
};

// ------------------------------------------------------------------ proxy health

const PROBES_PER_DAY = 288;

function registerProxy(proxyId: string, now: string): ProxyCommand {
  return {
    type: 'RegisterProxy',
    proxyId,
    host: '127.0.0.1',
    port: 8080,
    protocol: 'http',
    credentials: SEALED,
    country: 'CN',
    region: null,
    provider: 'bench',
    registeredBy: 'bench',
    now,
  };
}

const proxyProbe: Scenario<{ proxyId: string }> = {
  aggregate: 'proxy (health checks)',
  command: 'record a probe and judge the proxy',
  history: 'a probe every 5 minutes for a year (a stream per day, 1 in 50 failing), half a day of them today',
  async prepare(c, aged) {
    const proxyId = randomUUID();
    const start = yearStart(c);
    let events = await writeHistory(c.store, proxyAggregate, proxyId, [registerProxy(proxyId, at(start, 0))]);
    let carried: RecordProxyObservation['carried'] = null;
    const today = utcDay(c.now);
    for (let day = 0; aged && day <= DAYS; day++) {
      const dayStart = new Date(start.getTime() + day * 86_400_000);
      const name = utcDay(dayStart);
      const probes = name === today ? PROBES_PER_DAY / 2 : PROBES_PER_DAY;
      const commands: RecordProxyObservation[] = [];
      let failures = 0;
      let successes = 0;
      for (let p = 0; p < probes; p++) {
        const ok = p % 50 !== 49;
        const now = new Date(Date.parse(`${name.slice(0, 4)}-${name.slice(4, 6)}-${name.slice(6, 8)}T00:00:00Z`) + p * 300_000).toISOString();
        commands.push({
          type: 'RecordProxyObservation',
          proxyId,
          day: name,
          source: 'probe',
          ok,
          latencyMs: ok ? 80 : null,
          error: ok ? null : 'timeout',
          carried: p === 0 ? carried : null,
          now,
        });
        failures = ok ? 0 : failures + 1;
        successes = ok ? successes + 1 : 0;
        if (p === probes - 1) carried = { consecutiveFailures: failures, consecutiveSuccesses: successes, checkedAt: now };
      }
      events += await writeHistory(c.store, proxyHealthAggregate, proxyHealthDayId(proxyId, name), commands);
      if (name === today) break;
    }
    return { target: { proxyId }, events };
  },
  async run(c, { proxyId }) {
    await recordObservation(
      { store: c.store, context, thresholds: { failure: 3, recovery: 2 }, at: new Date(), timedOnArrival: true },
      { proxyId, source: 'probe', ok: true, latencyMs: 75 },
    );
  },
};

// ------------------------------------------------------------------ platform account

function* accountYear(accountId: string, ownerId: string, start: Date): Generator<PlatformAccountCommand> {
  yield {
    type: 'ConnectPlatformAccount',
    accountId,
    ownerId,
    platform: 'xiaohongshu',
    platformUserId: null,
    displayName: 'Bench',
    credentials: SEALED,
    now: at(start, 0),
  };
  yield { type: 'VerifyAccount', accountId, requestedBy: ownerId, outcome: { ok: true, platformUserId: 'xhs-1', nickname: 'bench' }, now: at(start, 0, 1) };
  for (let week = 1; week < 52; week++) {
    // a login wall or captcha every week or two, the owner reconnects with fresh cookies
    yield { type: 'InvalidateAccount', accountId, requestedBy: null, reason: week % 2 ? 'login_wall' : 'captcha', now: at(start, week * 7) };
    yield {
      type: 'RotateAccountCredentials',
      accountId,
      requestedBy: ownerId,
      credentials: { ...SEALED, iv: Buffer.from(`iv${week}`).toString('base64') },
      now: at(start, week * 7, 30),
    };
    yield {
      type: 'VerifyAccount',
      accountId,
      requestedBy: ownerId,
      outcome: { ok: true, platformUserId: 'xhs-1', nickname: `bench ${week % 3}` },
      now: at(start, week * 7, 31),
    };
    if (week % 10 === 0) yield { type: 'RenamePlatformAccount', accountId, requestedBy: ownerId, displayName: `Bench ${week}`, now: at(start, week * 7, 40) };
  }
}

const accountVerify: Scenario<{ accountId: string; ownerId: string }> = {
  aggregate: 'platform account',
  command: 'verify (a nickname change each time)',
  history: 'connected a year ago; a login wall or captcha every week, each followed by new cookies and a verification; renamed now and then',
  async prepare(c, aged) {
    const accountId = randomUUID();
    const ownerId = randomUUID();
    const year = accountYear(accountId, ownerId, yearStart(c));
    const events = await writeHistory(
      c.store,
      platformAccountAggregate,
      accountId,
      aged ? year : [year.next().value as PlatformAccountCommand, year.next().value as PlatformAccountCommand],
    );
    return { target: { accountId, ownerId }, events };
  },
  async run(c, { accountId, ownerId }, i) {
    const now = new Date().toISOString();
    await handle(
      c.store,
      platformAccountAggregate,
      accountId,
      { type: 'VerifyAccount', accountId, requestedBy: ownerId, outcome: { ok: true, platformUserId: 'xhs-1', nickname: `nick ${i}` }, now },
      { context },
    );
  },
};

// ------------------------------------------------------------------ workflow and its executions

const WORKFLOW_CONFIG = { keyword: '露营', maxItems: 20 };

function* workflowYear(workflowId: string, ownerId: string, start: Date): Generator<WorkflowCommand> {
  yield {
    type: 'CreateWorkflow',
    workflowId,
    ownerId,
    platform: 'xiaohongshu',
    workflowType: 'xiaohongshu.notes',
    name: 'Camping',
    config: WORKFLOW_CONFIG,
    platformAccountId: null,
    schedule: { kind: 'cron', expression: '0 * * * *' },
    now: at(start, 0),
  };
  for (let day = 1; day < DAYS; day++) {
    // the pro quota runs out on most afternoons: paused until midnight, resumed by the deadline
    if (day % 3 !== 0) {
      yield { type: 'PauseWorkflow', workflowId, reason: 'quota_exceeded', requestedBy: null, until: at(start, day + 1), now: at(start, day, 900) };
      yield { type: 'ResumeWorkflow', workflowId, requestedBy: null, reason: 'quota_exceeded', now: at(start, day + 1) };
    }
    if (day % 30 === 0) yield { type: 'UpdateWorkflow', workflowId, requestedBy: ownerId, name: `Camping ${day}`, now: at(start, day, 30) };
  }
}

/** One hourly run: requested, started through a proxy, a page of items, completed. */
function executionRun(executionId: string, workflowId: string, ownerId: string, start: Date, day: number, hour: number): WorkflowExecutionCommand[] {
  const t = (m: number) => at(start, day, hour * 60 + m);
  const items = Array.from({ length: 20 }, (_, i) => ({
    platformContentId: `${executionId}-${i}`,
    kind: 'xiaohongshu.note',
    data: { title: `note ${i}`, likes: i },
  }));
  return [
    {
      type: 'RequestExecution',
      executionId,
      workflowId,
      ownerId,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      config: WORKFLOW_CONFIG,
      platformAccountId: null,
      trigger: 'schedule',
      requestedBy: null,
      now: t(0),
    },
    { type: 'AssignProxy', executionId, proxyId: 'proxy-1', leaseId: 'lease-1', reason: 'initial', now: t(0) },
    { type: 'StartExecution', executionId, workerId: 'worker-1', now: t(1) },
    { type: 'CollectItems', executionId, batchId: 'page-1', items, cursor: null, now: t(2) },
    { type: 'CompleteExecution', executionId, now: t(3) },
  ] as WorkflowExecutionCommand[];
}

const EXECUTIONS_PER_DAY = Number(process.env.BENCH_AGING_EXECUTIONS_PER_DAY ?? 24);

const workflowExecute: Scenario<{ workflowId: string; ownerId: string }> = {
  aggregate: 'workflow (executions)',
  command: 'execute: load the workflow, request a run',
  history: `hourly schedule for a year: ${EXECUTIONS_PER_DAY} runs a day (a stream each: requested, proxy, started, a page of 20 items, completed), a quota pause and resume on 2 days in 3, a monthly edit`,
  async prepare(c, aged) {
    const workflowId = randomUUID();
    const ownerId = randomUUID();
    const start = yearStart(c);
    const year = workflowYear(workflowId, ownerId, start);
    let events = await writeHistory(c.store, workflowAggregate, workflowId, aged ? year : [year.next().value as WorkflowCommand]);
    for (let day = 0; aged && day < DAYS; day++) {
      for (let run = 0; run < EXECUTIONS_PER_DAY; run++) {
        const executionId = randomUUID();
        events += await writeHistory(c.store, workflowExecutionAggregate, executionId, executionRun(executionId, workflowId, ownerId, start, day, run % 24));
      }
    }
    return { target: { workflowId, ownerId }, events };
  },
  async run(c, { workflowId, ownerId }) {
    await requestExecution({ store: c.store, timeZone: TIME_ZONE, now: () => new Date() }, { userId: ownerId, context }, workflowId);
  },
};

/** Every scenario with its target type erased (each keeps its own). */
const erase = <T>(scenario: Scenario<T>): Scenario => scenario as Scenario;

export const SCENARIOS: readonly Scenario[] = [
  erase(userLogin),
  erase(sessionRefresh),
  erase(subscriptionConsume),
  erase(notificationNotify),
  erase(proxyProbe),
  erase(accountVerify),
  erase(workflowExecute),
];
