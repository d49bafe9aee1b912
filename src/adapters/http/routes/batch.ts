import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { currentPlans } from '../../../application/api-keys.js';
import { loadTracking, novelTrackingId, trackNovel, untrackNovel, updateTracking, type TrackingCall } from '../../../application/novel-trackings.js';
import { allowsBatchOperations, requireBatchOperations } from '../../../application/plan-gates.js';
import { disconnectPlatformAccount, ownedAccount, verifyPlatformAccount, type PlatformAccountsDeps } from '../../../application/platform-accounts.js';
import { currentPlan } from '../../../application/subscription-quotas.js';
import { deleteCollectedContent } from '../../../application/xiaohongshu-contents.js';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import { formatPosition, maxPosition, type Position } from '../../../event-store/position.js';
import { createAccountVerifiers, UpstreamUnavailableError, type AccountVerifiers } from '../../../platforms/account-verifier.js';
import { platformModule } from '../../../platforms/registry.js';
import { XIAOHONGSHU_CONTENT_PROJECTION } from '../../../projections/xiaohongshu-content.js';
import { retentionFor } from '../../../read-api/retention.js';
import { hasContent } from '../../../read-api/xiaohongshu.js';
import { DomainError } from '../../../write-model/core/domain-error.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { mapError } from '../error-mapping.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import type { AppContext, AppState } from '../state.js';
import { changedSettings, DEFAULT_SETTINGS, novelId, settingsBody } from './qidian.js';

/**
 * Batch operations (the plan feature batch_operations): one call, up to
 * MAX_BATCH_ITEMS ids, each item done on its own through the same
 * application function as its single-item route, each with its own result.
 *
 * The call answers 200 with `{results: [{id, ok, status, error?, …}],
 * succeeded, failed, position}` whatever the items' outcomes (a 207 in
 * spirit): `status` is what the single-item route would have answered for
 * that item, `error` its error body ({code, message, details}). The call
 * itself fails only before any item runs (401/403/422) or when a dependency
 * is away (503: the items done so far stay done; every action is safe to
 * repeat). Items run in the order given; one failing stops none of the others.
 *
 * Gates (docs/plans.md): the Xiaohongshu deletion by the
 * xiaohongshu plan's batch_operations; the Qidian trackings by the qidian
 * plan at the tiers where the catalogue includes batch_operations (pro,
 * enterprise: Qidian's catalogue has no such feature); the platform
 * accounts by the plan of each account's service — the call needs one such
 * plan, an item of a service whose plan lacks it is a 403 item.
 */

export const MAX_BATCH_ITEMS = 100;

export interface BatchRouteDeps {
  store: EventStore;
  knex: Knex;
  secretBox: SecretBox;
  config: Config;
  /** the platforms' account verifiers; default: the real ones from config */
  verifiers?: AccountVerifiers;
  /** the clock (tests) */
  now?: () => Date;
}

const itemSchema = z.object({
  id: z.string().describe('the id as given'),
  ok: z.boolean(),
  status: z.number().int().describe('what the single-item route would have answered for this item (200, 201, 403, 404, 409, 429, 502, …)'),
  revision: z.string().nullable().describe("the item stream's revision after it; null when it failed"),
  position: z.string().nullable().describe('where its write stands in $all; null when nothing was written'),
  data: z.record(z.string(), z.unknown()).optional().describe("what the action tells beyond the write (a verification's verdict, a tracking's id)"),
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown() }).optional(),
});

const batchSchema = z.object({
  results: z.array(itemSchema),
  succeeded: z.number().int(),
  failed: z.number().int(),
  position: z.string().nullable().describe('the last position written by any item: pass it as ?after_position= to read the batch'),
});

const BATCH_TEXT =
  'Answers 200 with one result per id, in the order given (each done on its own; ok false items carry status and error as the ' +
  'single-item route would answer them). At most 100 ids (422 beyond, or for none).';

type ItemOutcome = { revision: bigint; position: Position | undefined; status?: number; data?: Record<string, unknown> };
type ItemResult = z.input<typeof itemSchema>;

const ids = <T extends z.ZodType>(id: T) => z.array(id).min(1).max(MAX_BATCH_ITEMS);

/** Runs `work` for each id (at most `concurrency` at once), every failure the API knows as that item's result. */
async function runItems(
  ctx: AppContext,
  items: readonly string[],
  concurrency: number,
  work: (id: string) => Promise<ItemOutcome>,
): Promise<z.input<typeof batchSchema>> {
  const results: ItemResult[] = new Array(items.length);
  let last: Position | undefined;
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      const id = items[index]!;
      try {
        const outcome = await work(id);
        if (outcome.position) last = last ? maxPosition(last, outcome.position) : outcome.position;
        results[index] = {
          id,
          ok: true,
          status: outcome.status ?? 200,
          revision: outcome.revision.toString(),
          position: outcome.position ? formatPosition(outcome.position) : null,
          ...(outcome.data ? { data: outcome.data } : {}),
        };
      } catch (error) {
        results[index] = { id, ok: false, revision: null, position: null, ...itemError(error, ctx) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  const succeeded = results.filter((r) => r.ok).length;
  return { results, succeeded, failed: results.length - succeeded, position: last ? formatPosition(last) : null };
}

/** An item's failure as its status and error; a failure the API does not know as a client's (a dependency away, a bug) fails the call. */
function itemError(error: unknown, ctx: AppContext): { status: number; error: { code: string; message: string; details: unknown } } {
  if (error instanceof UpstreamUnavailableError) {
    return { status: 502, error: { code: 'UPSTREAM_UNAVAILABLE', message: error.message, details: { platform: error.platform, problem: error.problem } } };
  }
  const mapped = mapError(error, ctx);
  if (!mapped || mapped.error.status >= 500) throw error;
  return { status: mapped.error.status, error: { code: mapped.error.code, message: mapped.error.message, details: mapped.error.details ?? {} } };
}

/** The batch routes of Xiaohongshu contents, platform accounts and Qidian trackings (their paths under each one's prefix). */
export function batchRouter(api: HttpApi, deps: BatchRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1' });
  const { store, knex } = deps;
  const timeZone = deps.config.QUOTA_TIME_ZONE;
  const clock = () => deps.now?.() ?? new Date();
  const accounts: PlatformAccountsDeps = {
    store,
    secretBox: deps.secretBox,
    verifiers: deps.verifiers ?? createAccountVerifiers(deps.config),
    timeZone,
    ...(deps.now ? { now: deps.now } : {}),
  };

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/xiaohongshu/contents/batch-delete',
      summary: 'Delete several of my collected notes',
      description:
        `Each note as DELETE /xiaohongshu/contents/{id} would (a note I cannot read: a 404 item; deleted before: 200 with position null). ${BATCH_TEXT} ` +
        'Needs the xiaohongshu plan feature batch_operations (pro, enterprise): otherwise 403 PERMISSION_DENIED, details.feature = batch_operations.',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.data.delete',
      request: { query: afterPositionQuery, body: z.object({ ids: ids(z.string().regex(/^[0-9a-f]{24}$/, 'a note id is 24 hex characters')) }).strict() },
      responses: { 200: { description: 'one result per note', schema: batchSchema } },
      errors: [403],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const now = clock();
      const retention = await retentionFor(store, user.id, 'xiaohongshu', now);
      requireBatchOperations(retention.plan);
      await awaitPosition(ctx, knex, XIAOHONGSHU_CONTENT_PROJECTION);
      const scope = { ownerId: user.id, cutoff: retention.cutoff, timeZone };
      return runItems(ctx, body.ids, 1, async (noteId) => {
        const collected = await hasContent(knex, scope, noteId);
        return deleteCollectedContent({ store, ownerId: user.id, now, context: commandContext(ctx, user.id) }, noteId, collected);
      });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/platform-accounts/batch',
      summary: 'Verify or disconnect several of my platform accounts',
      description:
        "Each account as POST /platform-accounts/{id}/verify or DELETE /platform-accounts/{id} would (another user's or an unknown " +
        'account: a 404 item; a verification the platform does not answer: a 502 item; `data` holds the verdict: verified, status, ' +
        `reason). Verifications run four at a time. ${BATCH_TEXT} Needs batch_operations in the plan of the account's service: the call ` +
        'needs one plan with it (403 PERMISSION_DENIED, details.feature = batch_operations, otherwise), an account of a service whose plan ' +
        'lacks it is a 403 item (Qidian: pro and enterprise, the tiers at which Xiaohongshu has the feature).',
      tags: ['platform-accounts'],
      auth: true,
      permission: 'collection.platform-accounts.edit',
      request: { body: z.object({ action: z.enum(['verify', 'disconnect']), ids: ids(z.string().min(1).max(100)) }).strict() },
      responses: { 200: { description: 'one result per account', schema: batchSchema } },
      errors: [403],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const plans = await currentPlans(store, user.id);
      if (!plans.some(allowsBatchOperations))
        requireBatchOperations(plans.find((p) => p.service === 'xiaohongshu') ?? plans[0]!, {
          plans: Object.fromEntries(plans.map((p) => [p.service, p.code])),
        });
      const actor = { userId: user.id, context: commandContext(ctx, user.id) };
      return runItems(ctx, body.ids, body.action === 'verify' ? 4 : 1, async (id) => {
        const { state } = await ownedAccount(store, id, user.id);
        const service = platformModule(state.platform)?.service;
        const plan = plans.find((p) => p.service === service);
        if (!plan)
          throw new DomainError('PERMISSION_DENIED', `no plan covers ${state.platform} accounts`, { feature: 'batch_operations', platform: state.platform });
        requireBatchOperations(plan, { platform: state.platform });
        if (body.action === 'disconnect') return disconnectPlatformAccount(accounts, actor, id);
        const { outcome, result } = await verifyPlatformAccount(accounts, actor, id);
        const after = result.state;
        return {
          ...result,
          data: {
            verified: outcome.ok,
            status: after.status === 'none' ? 'pending_verification' : after.status,
            reason: outcome.ok ? null : outcome.reason,
          },
        };
      });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/qidian/trackings/batch',
      summary: 'Track, untrack or change several novels',
      description:
        'Each novel as its single route would: `track` as POST /qidian/trackings (201 item with data.id, the tracking id; tracked ' +
        'already: 409; past novel_tracking_limit: 429 items), `untrack` as DELETE /qidian/trackings/{id} (a novel I never tracked: 404), ' +
        '`update` as PUT /qidian/trackings/{id} with `settings` (required; the settings named change, the others stay; not tracked: 404). ' +
        '`settings` with track: the defaults changed by the settings named. Results are by novel id. ' +
        `${BATCH_TEXT} Qidian's catalogue has no batch_operations feature: a qidian plan at the tiers where Xiaohongshu's includes it (pro, ` +
        'enterprise) may batch; otherwise 403 PERMISSION_DENIED, details.feature = batch_operations (docs/plans.md).',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.workflows.edit',
      request: {
        body: z
          .object({ action: z.enum(['track', 'untrack', 'update']), novel_ids: ids(novelId), settings: settingsBody.partial().optional() })
          .strict()
          .refine((b) => b.action !== 'update' || (b.settings !== undefined && Object.keys(b.settings).length > 0), {
            message: 'update needs settings',
            path: ['settings'],
          }),
      },
      responses: { 200: { description: 'one result per novel', schema: batchSchema } },
      errors: [403],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      requireBatchOperations(await currentPlan(store, user.id, 'qidian'));
      const call = (): TrackingCall => ({ store, userId: user.id, now: clock(), timeZone, context: commandContext(ctx, user.id) });
      const defaults = {
        notifyOnUpdate: DEFAULT_SETTINGS.notify_on_update,
        notifyOnCompletion: DEFAULT_SETTINGS.notify_on_completion,
        wordCountThreshold: DEFAULT_SETTINGS.word_count_threshold,
      };
      return runItems(ctx, body.novel_ids, 1, async (novel) => {
        if (body.action === 'track') {
          const tracked = await trackNovel(call(), { novelId: novel, title: null, settings: changedSettings(defaults, body.settings ?? {}) });
          return { ...tracked, status: 201, data: { id: tracked.trackingId } };
        }
        const trackingId = novelTrackingId(user.id, novel);
        const { state } = await loadTracking(store, trackingId);
        const mine = state.status !== 'none' && state.userId === user.id;
        if (!mine || (body.action === 'update' && state.status !== 'tracking')) throw new DomainError('NOT_FOUND', 'tracking not found', { novelId: novel });
        if (body.action === 'untrack') return untrackNovel(call(), trackingId);
        return updateTracking(call(), trackingId, { settings: changedSettings(state.settings, body.settings ?? {}) });
      });
    },
  );

  return router;
}
