import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { calendarDaySchema } from '../calendar-day.js';
import type { EventStore } from '../../../event-store/port.js';
import { subscriptionIdFor } from '../../../process-managers/shared.js';
import { SUBSCRIPTIONS_PROJECTION } from '../../../projections/subscriptions.js';
import { findSubscription, listSubscriptions, subscriptionUsage, type SubscriptionRow } from '../../../read-api/subscriptions.js';
import { handle, load } from '../../../write-model/core/command-handler.js';
import { PAYMENT_CHANNELS, paymentOrderAggregate, type PaidPlan, type PaymentChannel, type PaymentProvider } from '../../../write-model/payment-order/index.js';
import type { ActiveSubscription, SubscriptionState } from '../../../write-model/subscription/state.js';
import { channelFor, type CheckoutInput } from '../../../application/payments.js';
import { planHolderIn, type PlanHolder } from '../../../application/plan-holder.js';
import { findOpenCheckout } from '../../../read-api/payments.js';
import type { PaymentProviders } from '../../../application/ports/payment-providers.js';
import { ok } from '../envelope.js';
import { checkoutErrorsDescription, checkoutSchema, checkoutView, defaultProvider, orderView, placeCheckout } from './payments.js';
import { DomainError } from '../../../write-model/core/domain-error.js';
import type { SubscriptionCommand } from '../../../write-model/subscription/commands.js';
import { subscriptionAggregate, subscriptionKey } from '../../../write-model/subscription/decider.js';
import { compareRank, DAILY_COUNTER_FEATURES, PLAN_CODES, SERVICES, type Service } from '../../../write-model/subscription/plans.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { rangeError } from '../error-mapping.js';
import { HttpError } from '../http-error.js';
import { inTurnOrRefused } from '../counted-creation.js';
import type { Turns } from '../../../application/ports/turns.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { addDays, quotaDay } from '../../../application/quota-day.js';
import { consumeQuota } from '../../../application/subscription-quotas.js';
import { afterPositionQuery, awaitPosition, DEFAULT_POSITION_WAIT_MS } from '../read-your-writes.js';
import { waitForCheckpoint } from '../../../consumers/checkpoints.js';
import { PAYMENT_ORDERS_FILTER, PAYMENT_ORDERS_PROJECTION } from '../../../projections/payment-orders.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import { formatPosition } from '../../../event-store/position.js';
import type { AppContext, AppState } from '../state.js';

export interface SubscriptionsRouteDeps {
  store: EventStore;
  knex: Knex;
  /** the quota day's zone; default QUOTA_TIME_ZONE or Asia/Shanghai (quota-day.ts) */
  /** config QUOTA_TIME_ZONE */
  timeZone: string;
  /** the clock (tests) */
  now?: () => Date;
  /** upgrades through PUT open a checkout with these providers (none: a higher plan is 422 PAYMENT_REQUIRED) */
  checkout?: { providers: PaymentProviders; ttlMinutes: number };
  /** where concurrent checkouts of one subscription take turns (none: they are not serialised) */
  turns?: Turns;
}

/** A repeated upgrade request answers the open order while at least this much of it is left to pay. */
const REUSE_CHECKOUT_MIN_REMAINING_MS = 5 * 60_000;

/** The longest usage range one request may ask for, in days. */
export const MAX_USAGE_DAYS = 92;

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });

const subscriptionSchema = z.object({
  id: z.string(),
  service: z.string(),
  plan: z.string(),
  plan_name: z.string().nullable(),
  status: z.string().describe('active, or cancelled: falls back to free at period_end'),
  period_start: z.string(),
  period_end: z.string().nullable().describe('null for free, which never expires'),
  pending_downgrade: z.string().nullable(),
  pending_downgrade_at: z.string().nullable(),
  cancel_at_period_end: z.boolean(),
  cancelled_at: z.string().nullable(),
  auto_renew: z
    .boolean()
    .describe('a renewal order is placed before period_end for the user to pay (paid plans only; off after cancelling or falling back to free)'),
  auto_renew_provider: z.string().nullable().describe('alipay or wechat: who renewal orders are placed with'),
  auto_renew_channel: z.string().nullable(),
  renewal_order_id: z
    .string()
    .nullable()
    .describe('the renewal order placed for the current period: pay it before period_end (GET /api/v1/payments/orders/{id})'),
  started_at: z.string(),
  updated_at: z.string(),
  holder_kind: z.enum(['user', 'organization']).describe("user: the caller's own; organization: held by their organization for its members"),
  organization_id: z.string().nullable().describe('the organization holding it (holder_kind organization)'),
  revision: z.string(),
});

const usageSchema = z.object({
  subscription_id: z.string(),
  service: z.string(),
  plan: z.string(),
  time_zone: z.string(),
  today: z.string(),
  resets_at: z.string(),
  features: z.array(
    z.object({
      feature: z.string(),
      kind: z.enum(['daily_counter', 'resource_limit']),
      included: z.boolean(),
      limit: z.number().int().nullable().describe('null: unlimited'),
      used: z.number().int(),
      remaining: z.number().int().nullable(),
      exceeded_at: z.string().nullable(),
    }),
  ),
  days: z.array(
    z.object({
      day: z.string(),
      features: z.array(z.object({ feature: z.string(), used: z.number().int(), limit: z.number().int().nullable(), exceeded_at: z.string().nullable() })),
    }),
  ),
});

const consumedSchema = commandResultSchema.extend({
  feature: z.string(),
  day: z.string(),
  used_today: z.number().int(),
  limit: z.number().int().nullable(),
  remaining: z.number().int().nullable(),
  resets_at: z.string(),
});

const idParams = z.object({ id: z.uuid('a subscription id is a UUID') });
const DAY = calendarDaySchema;

/** A checkout waits 15 s for another of the same subscription (then 409); it keeps its turn at most 150 s (a crashed holder's ends then): the projection wait and the provider's longest timeout fit inside. */
const CHECKOUT_TURN = { waitMs: 15_000, holdMs: 150_000 };

function paymentRequired(plan: string): HttpError {
  return new HttpError(422, 'VALIDATION_ERROR', `the ${plan} plan is paid: buy it through PUT /api/v1/subscriptions/{id} or POST /api/v1/payments/orders`, {
    code: 'PAYMENT_REQUIRED',
    plan,
  });
}

/**
 * The caller's subscriptions: `/api/v1/subscriptions`. Reads come from the
 * `subscriptions-v1` read model (`?after_position=` waits for it); commands go
 * to the Subscription aggregate. Someone else's subscription is a 404, like
 * an unknown one.
 *
 * Paid plans are bought through payments (an order's PaymentSucceeded
 * upgrades or renews via the pm-plan-on-payment process manager): PUT to a
 * higher plan answers 202 with the order to pay (a checkout); POST with a
 * paid plan, or an upgrade with no provider configured, is 422
 * VALIDATION_ERROR with `details.code = PAYMENT_REQUIRED`.
 */
export function subscriptionsRouter(api: HttpApi, deps: SubscriptionsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/subscriptions' });
  const { store, knex } = deps;
  const timeZone = () => deps.timeZone;
  const clock = () => deps.now?.() ?? new Date();

  /**
   * Whose subscription `id` is and of which service: facts that never change,
   * so remembered once read (a quota use is the busiest route and needs only these).
   */
  const owners = new Map<string, { holder: PlanHolder; service: Service }>();
  async function ownerOf(ctx: AppContext, id: string): Promise<{ holder: PlanHolder; service: Service }> {
    let owner = owners.get(id);
    if (!owner) {
      const found = await findSubscription(knex, id);
      if (found) {
        owner = { holder: found.holder, service: found.service };
        if (owners.size >= 10_000) owners.delete(owners.keys().next().value!);
        owners.set(id, owner);
      }
    }
    if (!owner || !sameHolder(owner.holder, await holderOfCaller(ctx))) throw new HttpError(404, 'NOT_FOUND', 'subscription not found');
    return owner;
  }

  /**
   * Whose subscriptions the caller's are: their organization's for a member
   * (the members share it; who may change it is the route's permission),
   * their own outside one. Read from the event store: consistent.
   */
  function holderOfCaller(ctx: AppContext): Promise<PlanHolder> {
    return planHolderIn(store, currentUser(ctx).id);
  }

  const sameHolder = (a: PlanHolder, b: PlanHolder) => a.kind === b.kind && a.id === b.id;

  /** The caller's (plan holder's) subscription `id` from the read model; 404 for an unknown one or someone else's. */
  async function ownSubscription(ctx: AppContext, id: string): Promise<SubscriptionRow> {
    const found = await findSubscription(knex, id);
    if (!found || !sameHolder(found.holder, await holderOfCaller(ctx))) throw new HttpError(404, 'NOT_FOUND', 'subscription not found');
    return found;
  }

  /** The provider and channel of the order that paid for the current period (the newest of the plan's orders), if any. */
  async function currentPeriodOrder(state: ActiveSubscription): Promise<{ provider: PaymentProvider; channel: PaymentChannel | null } | undefined> {
    const ids = Object.keys(state.planOrders ?? {});
    if (ids.length === 0) return undefined;
    const row = (await knex('payment_orders')
      .select('provider', 'channel')
      .whereIn('id', ids)
      // an organization's plan orders were placed by its members
      .where(state.holderKind === 'organization' ? {} : { user_id: state.userId })
      .orderByRaw('paid_at DESC NULLS LAST, created_at DESC')
      .first()) as { provider: PaymentProvider; channel: PaymentChannel | null } | undefined;
    return row;
  }

  /**
   * PUT with `auto_renew`: SetAutoRenew on the plan in force. Turning it on
   * resolves the provider (asked, else the current period's, else the first
   * offered) and its channel; the decider refuses it on free (422) and on a
   * cancelled subscription (409).
   */
  async function setAutoRenew(
    ctx: AppContext,
    key: string,
    state: SubscriptionState,
    body: { plan?: string | undefined; auto_renew: boolean; provider?: PaymentProvider | undefined; channel?: string | undefined },
  ) {
    const user = currentUser(ctx);
    if (state.status !== 'active') throw new HttpError(404, 'NOT_FOUND', 'subscription not found');
    if (body.plan !== undefined && body.plan !== state.plan) {
      const message = 'auto_renew applies to the plan in force: change the plan and auto_renew in separate requests';
      throw new HttpError(422, 'VALIDATION_ERROR', message, { issues: [{ in: 'body', path: ['auto_renew'], message, code: 'custom' }] });
    }
    let provider: PaymentProvider | undefined;
    let channel: PaymentChannel | undefined;
    if (body.auto_renew && state.plan !== 'free') {
      const previous = await currentPeriodOrder(state);
      const offered = deps.checkout?.providers;
      provider = body.provider ?? (previous && offered?.[previous.provider] ? previous.provider : undefined) ?? defaultProvider(offered);
      if (!provider || !offered?.[provider]) {
        const message = provider ? `${provider} is not offered on this platform` : 'no payment provider is offered on this platform: nothing to renew with';
        throw new HttpError(422, 'VALIDATION_ERROR', message, { issues: [{ in: 'body', path: ['provider'], message, code: 'provider_not_offered' }] });
      }
      const asked = (body.channel as PaymentChannel | undefined) ?? (previous?.provider === provider && previous.channel ? previous.channel : undefined);
      channel = channelFor(provider, asked);
    }
    return handle(
      store,
      subscriptionAggregate,
      key,
      { type: 'SetAutoRenew', enabled: body.auto_renew, ...(provider ? { provider } : {}), ...(channel ? { channel } : {}), now: clock().toISOString() },
      { context: commandContext(ctx, user.id), expectedRevision: ifMatchRevision(ctx) },
    );
  }

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      summary: 'My subscriptions',
      description:
        'One per service (every user starts on free), by service. For a member of an organization: the subscriptions the organization holds ' +
        'for its members (holder_kind organization), whose plans and quotas they share.',
      tags: ['subscriptions'],
      auth: true,
      permission: 'billing.subscriptions.view',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of subscriptions', schema: pageSchema(subscriptionSchema) } },
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, knex, SUBSCRIPTIONS_PROJECTION);
      return listSubscriptions(knex, await holderOfCaller(ctx), query);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/',
      summary: 'Start the free plan of a service',
      description:
        'Starts the free plan when the caller has no subscription to the service (201); an existing one answers 200 unchanged. ' +
        'Paid plans are bought through payments: any other plan is 422 with details.code PAYMENT_REQUIRED.',
      tags: ['subscriptions'],
      auth: true,
      permission: 'billing.subscriptions.create',
      // plans and their payments: a session token only, never an API key
      scope: 'session',
      request: { body: z.object({ service: z.enum(SERVICES), plan: z.enum(PLAN_CODES).default('free') }).strict() },
      responses: {
        201: { description: 'started', schema: commandResultSchema.extend({ id: z.string(), started: z.boolean() }) },
        200: { description: 'already subscribed', schema: commandResultSchema.extend({ id: z.string(), started: z.boolean() }) },
      },
      errors: [409],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      if (body.plan !== 'free') throw paymentRequired(body.plan);
      const holder = await holderOfCaller(ctx);
      const id = subscriptionIdFor(holder.id, body.service);
      const result = await handle(
        store,
        subscriptionAggregate,
        subscriptionKey(holder.id, body.service),
        (state): SubscriptionCommand => ({
          type: 'StartSubscription',
          subscriptionId: state.status === 'active' ? state.subscriptionId : id,
          userId: holder.id,
          holderKind: holder.kind,
          service: body.service,
          plan: 'free',
          periodEnd: null,
          now: clock().toISOString(),
        }),
        { context: commandContext(ctx, user.id) },
      );
      const started = result.events.length > 0;
      const actual = result.state.status === 'active' ? result.state.subscriptionId : id;
      commandResult(ctx, result, { status: started ? 201 : 200, extra: { id: actual, started } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id',
      summary: 'One of my subscriptions',
      description: 'ETag: the revision to send as If-Match to PUT.',
      tags: ['subscriptions'],
      auth: true,
      permission: 'billing.subscriptions.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the subscription', schema: subscriptionSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      await awaitPosition(ctx, knex, SUBSCRIPTIONS_PROJECTION);
      const found = await ownSubscription(ctx, params.id);
      ctx.set('ETag', `"${found.view.revision}"`);
      return found.view;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/:id',
      summary: 'Change my plan',
      description:
        'A lower plan is scheduled for the end of the period (the current plan stays in force until then): 200; 409 when more resources ' +
        'are held than it allows, or while a downgrade whose next period was paid is pending (details.pendingOrderId: refund it first). ' +
        'The current plan: 200, no change. A higher (paid) plan is a checkout: a payment order for one month of it ' +
        'is opened and placed with `provider` (default: the first this platform offers, Alipay before WeChat Pay) and answered with 202 — ' +
        'pay it at `pay_url` (Alipay) or `code_url` (WeChat Pay); the plan changes once the provider reports the payment (pm-plan-on-payment). ' +
        'Asked again while that order is open (5 minutes or more left), even by concurrent requests, the same order is answered. With no provider configured: 422 ' +
        `VALIDATION_ERROR with details.code PAYMENT_REQUIRED. ${checkoutErrorsDescription} ` +
        '`auto_renew` (without `plan`, or with the plan in force) turns automatic renewal of the paid plan on or off (200, AutoRenewChanged): ' +
        'SUBSCRIPTION_RENEWAL_LEAD_DAYS before period_end a renewal order for one more month is placed with `provider` / `channel` ' +
        '(default: those of the order that paid for the current period, else the first provider offered) and the user is reminded to pay it ' +
        '(in-app and by mail, with the pay link); paying it renews the plan. Nothing is charged without the user. On the free plan turning it ' +
        'on is 422 (details.code PAID_PLAN_REQUIRED); on a cancelled subscription 409; with another plan in the same request 422.',
      tags: ['subscriptions'],
      auth: true,
      permission: 'billing.subscriptions.edit',
      // plans and their payments: a session token only, never an API key
      scope: 'session',
      ifMatch: true,
      request: {
        params: idParams,
        body: z
          .object({
            plan: z.enum(PLAN_CODES).optional().describe('the plan to move to; required unless auto_renew is given'),
            auto_renew: z.boolean().optional().describe('automatic renewal of the paid plan in force on or off'),
            provider: z.enum(['alipay', 'wechat']).optional().describe('for an upgrade: who to pay; with auto_renew: who renewal orders are placed with'),
            channel: z.enum(PAYMENT_CHANNELS).optional().describe('for an upgrade or auto_renew: alipay page (default) or wap; wechat native'),
          })
          .strict(),
      },
      responses: {
        200: { description: 'changed (or scheduled, or already the plan)', schema: commandResultSchema },
        202: { description: 'an upgrade: the order to pay (the plan changes once it is paid)', schema: checkoutSchema },
      },
      errors: [404, 409, 502],
    },
    async ({ params, body }, ctx) => {
      const user = currentUser(ctx);
      const found = await ownSubscription(ctx, params.id);
      const key = subscriptionKey(found.userId, found.service);
      const loaded = await load(store, subscriptionAggregate, key);
      if (body.auto_renew !== undefined) {
        const result = await setAutoRenew(ctx, key, loaded.state, { ...body, auto_renew: body.auto_renew });
        commandResult(ctx, result);
        return;
      }
      if (body.plan === undefined) {
        throw new HttpError(422, 'VALIDATION_ERROR', 'give plan, auto_renew or both', {
          issues: [{ in: 'body', path: ['plan'], message: 'plan or auto_renew is required', code: 'invalid_type' }],
        });
      }
      const plan = body.plan;
      if (loaded.state.status === 'active' && compareRank(plan, loaded.state.plan) > 0) {
        const expected = ifMatchRevision(ctx);
        if (expected !== undefined && expected !== loaded.revision) {
          throw new HttpError(412, 'PRECONDITION_FAILED', 'the resource changed since the revision given in If-Match', {
            expected: String(expected),
            actual: String(loaded.revision),
          });
        }
        const provider = body.provider ?? defaultProvider(deps.checkout?.providers);
        const checkoutDeps = deps.checkout;
        if (!checkoutDeps || !provider) throw paymentRequired(plan);
        const input: CheckoutInput = {
          userId: user.id,
          // a member buys the plan for the organization's subscription
          ...(found.holder.kind === 'organization' ? { organizationId: found.holder.id } : {}),
          service: found.service,
          plan: plan as PaidPlan,
          billingCycle: 'monthly',
          provider,
          channel: channelFor(provider, body.channel as PaymentChannel | undefined),
          ttlMinutes: checkoutDeps.ttlMinutes,
          context: commandContext(ctx, user.id),
        };
        // one checkout of a subscription at a time (across API instances, no database transaction held over the provider
        // call): concurrent upgrades would each miss the other's order in the billing history and each open and place one
        const refused = () => new HttpError(409, 'CONFLICT', 'another checkout of this subscription is under way; try again');
        return inTurnOrRefused(deps.turns, `subscription-checkout:${key}`, CHECKOUT_TURN, refused, async () => {
          // the open order is looked up in the billing history, which trails the order streams: let it take in
          // every order written before this request, so one asked again at once is found
          await waitForCheckpoint(knex, PAYMENT_ORDERS_PROJECTION, await store.headPosition(), DEFAULT_POSITION_WAIT_MS, {
            store,
            filter: PAYMENT_ORDERS_FILTER,
          });
          const open = await findOpenCheckout(knex, {
            userId: user.id,
            service: found.service,
            plan: plan,
            provider,
            channel: input.channel!,
            now: clock(),
            minRemainingMs: REUSE_CHECKOUT_MIN_REMAINING_MS,
          });
          if (open) {
            const order = await load(store, paymentOrderAggregate, open.order_id);
            if (order.state.status === 'pending' && order.state.placement && order.state.order?.organizationId === input.organizationId) {
              const view = orderView(order.state);
              ctx.set('Location', `/api/v1/payments/orders/${open.order_id}`);
              return ok(
                ctx,
                {
                  order_id: view.order_id,
                  status: 'pending',
                  service: view.service,
                  plan: view.plan,
                  billing_cycle: view.billing_cycle,
                  amount_fen: view.amount_fen,
                  currency: 'CNY',
                  provider: view.provider,
                  channel: order.state.placement.channel,
                  expires_at: view.expires_at,
                  pay_url: view.pay_url,
                  code_url: view.code_url,
                  revision: order.revision.toString(),
                  position: null,
                },
                202,
              );
            }
          }
          const placed = await placeCheckout(ctx, { store, providers: checkoutDeps.providers, now: deps.now }, input);
          ctx.set('Location', `/api/v1/payments/orders/${placed.orderId}`);
          return ok(
            ctx,
            {
              ...checkoutView(placed, input),
              revision: placed.result.revision.toString(),
              position: placed.result.position ? formatPosition(placed.result.position) : null,
            },
            202,
          );
        });
      }
      const result = await handle(
        store,
        subscriptionAggregate,
        key,
        (state): SubscriptionCommand => {
          if (state.status === 'none') throw new DomainError('NOT_FOUND', 'subscription not found');
          // a concurrent change made it an upgrade after all: that is a checkout, asked again
          if (compareRank(plan, state.plan) > 0) throw paymentRequired(plan);
          return { type: 'ChangePlan', plan: plan, now: clock().toISOString() };
        },
        { context: commandContext(ctx, user.id), expectedRevision: ifMatchRevision(ctx) },
      );
      commandResult(ctx, result);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/:id',
      summary: 'Cancel my subscription at the end of the period',
      description:
        'The paid plan stays until period_end, then falls back to free. The free plan cannot be cancelled (409). ' +
        'If-Match with a revision other than the current one: 412, nothing cancelled.',
      tags: ['subscriptions'],
      auth: true,
      permission: 'billing.subscriptions.delete',
      // plans and their payments: a session token only, never an API key
      scope: 'session',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'cancelled', schema: commandResultSchema } },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const found = await ownSubscription(ctx, params.id);
      const result = await handle(
        store,
        subscriptionAggregate,
        subscriptionKey(found.userId, found.service),
        { type: 'CancelSubscription', now: clock().toISOString() },
        { context: commandContext(ctx, user.id), expectedRevision: ifMatchRevision(ctx) },
      );
      commandResult(ctx, result);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id/usage',
      summary: 'Usage of my subscription',
      description:
        'Per feature: today (in the quota time zone) against the current plan (daily counters from feature_usage_stats, resource ' +
        `limits from the reservations held now); per day of [from, to] (default: today, at most ${MAX_USAGE_DAYS} days) for the daily counters.`,
      tags: ['subscriptions'],
      auth: true,
      permission: 'billing.subscriptions.view',
      request: { params: idParams, query: z.object({ from: DAY.optional(), to: DAY.optional() }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'usage', schema: usageSchema } },
      errors: [404],
    },
    async ({ params, query }, ctx) => {
      await awaitPosition(ctx, knex, SUBSCRIPTIONS_PROJECTION);
      const found = await ownSubscription(ctx, params.id);
      const zone = timeZone();
      const today = quotaDay(clock(), zone);
      const to = query.to ?? (query.from && query.from > today.day ? query.from : today.day);
      // biome-ignore lint/complexity/useMathMinMax: days are YYYY-MM-DD text, compared as strings
      const from = query.from ?? (to < today.day ? to : today.day);
      if (from > to) throw rangeError();
      const days: string[] = [];
      // stepped until `to` itself: past 9999-12-31 a day no longer compares as YYYY-MM-DD text
      for (let day = from; ; day = addDays(day, 1)) {
        days.push(day);
        if (day === to) break;
        if (days.length >= MAX_USAGE_DAYS) {
          throw new HttpError(422, 'VALIDATION_ERROR', `at most ${MAX_USAGE_DAYS} days at a time`, {
            issues: [{ in: 'query', path: ['to'], message: `range longer than ${MAX_USAGE_DAYS} days`, code: 'too_big' }],
          });
        }
      }
      return subscriptionUsage(knex, found, { today: today.day, resetsAt: today.resetsAt, timeZone: zone, days });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/:id/consume',
      summary: 'Consume a daily quota',
      description:
        'Counts `amount` uses of a daily counter on today (quota time zone). Over the limit (all or nothing): 429 QUOTA_EXCEEDED with ' +
        'feature, limit, resets_at and Retry-After; the first refusal of the day is recorded as QuotaExceeded. A feature not in the plan: 403. ' +
        "Uses are recorded in the day's usage stream: revision and position are of that stream.",
      tags: ['subscriptions'],
      auth: true,
      permission: 'billing.subscriptions.run',
      request: {
        params: idParams,
        body: z.object({ feature: z.enum(DAILY_COUNTER_FEATURES), amount: z.number().int().positive().max(1_000_000).default(1) }).strict(),
      },
      responses: { 200: { description: 'counted', schema: consumedSchema } },
      errors: [403, 404, 409, 429],
    },
    async ({ params, body }, ctx) => {
      const user = currentUser(ctx);
      const found = await ownerOf(ctx, params.id);
      const now = clock();
      const { day, resetsAt } = quotaDay(now, timeZone());
      const result = await consumeQuota(
        { store, userId: user.id, holder: found.holder, service: found.service, now, timeZone: timeZone(), context: commandContext(ctx, user.id) },
        body.feature,
        body.amount,
      );
      const recorded = result.events.find((e) => e.type === 'UsageRecorded');
      const usedToday = recorded ? recorded.data.usedToday : 0;
      const limit = recorded ? recorded.data.limit : null;
      commandResult(ctx, result, {
        extra: {
          feature: body.feature,
          day,
          used_today: usedToday,
          limit,
          remaining: limit === null ? null : Math.max(0, limit - usedToday),
          resets_at: resetsAt,
        },
      });
    },
  );

  return router;
}
