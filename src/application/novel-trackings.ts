import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult } from '../write-model/core/command-handler.js';
import { uuidFromName } from '../write-model/core/event-ids.js';
import { novelTrackingAggregate, type NovelTrackingEvent, type NovelTrackingSettings, type NovelTrackingState } from '../write-model/novel-tracking/index.js';
import { releaseResource, reserveResource, type QuotaCall } from './subscription-quotas.js';

/**
 * Tracking a Qidian novel holds one unit of the qidian subscription's
 * novel_tracking_limit (resource id = the tracking id) for as long as it is
 * tracked. The two aggregates are written one after the other:
 *
 * - track: reserve first (QUOTA_EXCEEDED → 429, nothing tracked), then
 *   TrackNovel. An already tracked novel already holds its unit, so the
 *   reserve is a no-op and TrackNovel answers CONFLICT. When TrackNovel is
 *   refused and the novel is not tracked after all, the unit is given back.
 * - untrack: UntrackNovel, then release — also when the untrack was a
 *   repeat, so a DELETE retried after a failed release heals the quota.
 */

export const NOVEL_TRACKING_FEATURE = 'novel_tracking_limit';

/** One tracking per user and novel: the id is named after both. */
export function novelTrackingId(userId: string, novelId: string): string {
  return uuidFromName(`novel_tracking:${userId}:${novelId}`);
}

export interface TrackingCall {
  store: EventStore;
  userId: string;
  now: Date;
  /** config QUOTA_TIME_ZONE */
  timeZone: string;
  context: CommandContext;
}

type Result = HandleResult<NovelTrackingState, NovelTrackingEvent>;

function quotaCall(call: TrackingCall): QuotaCall {
  return { store: call.store, userId: call.userId, service: 'qidian', now: call.now, timeZone: call.timeZone, context: call.context };
}

export async function loadTracking(store: EventStore, trackingId: string): Promise<{ state: NovelTrackingState; revision: bigint }> {
  return load(store, novelTrackingAggregate, trackingId);
}

export async function trackNovel(
  call: TrackingCall,
  input: { novelId: string; title: string | null; settings: NovelTrackingSettings },
): Promise<Result & { trackingId: string }> {
  const trackingId = novelTrackingId(call.userId, input.novelId);
  await reserveResource(quotaCall(call), NOVEL_TRACKING_FEATURE, trackingId);
  try {
    const result = await handle(
      call.store,
      novelTrackingAggregate,
      trackingId,
      {
        type: 'TrackNovel',
        trackingId,
        userId: call.userId,
        novelId: input.novelId,
        title: input.title,
        settings: input.settings,
        now: call.now.toISOString(),
      },
      { context: call.context },
    );
    return { ...result, trackingId };
  } catch (error) {
    // give the unit back unless the novel is tracked (already, or by a concurrent request): that tracking holds it
    const after = await loadTracking(call.store, trackingId);
    if (after.state.status !== 'tracking') await releaseResource(quotaCall(call), NOVEL_TRACKING_FEATURE, trackingId);
    throw error;
  }
}

export async function updateTracking(
  call: TrackingCall,
  trackingId: string,
  change: { title?: string | null; settings?: NovelTrackingSettings },
  expectedRevision?: bigint,
): Promise<Result> {
  return handle(
    call.store,
    novelTrackingAggregate,
    trackingId,
    { type: 'UpdateNovelTracking', trackingId, requestedBy: call.userId, ...change, now: call.now.toISOString() },
    { context: call.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
}

export async function untrackNovel(call: TrackingCall, trackingId: string, expectedRevision?: bigint): Promise<Result> {
  const result = await handle(
    call.store,
    novelTrackingAggregate,
    trackingId,
    { type: 'UntrackNovel', trackingId, requestedBy: call.userId, now: call.now.toISOString() },
    { context: call.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
  await releaseResource(quotaCall(call), NOVEL_TRACKING_FEATURE, trackingId);
  return result;
}

/** What a novel tracked because a workflow names it starts with (the API's default for POST /qidian/trackings). */
export const DEFAULT_TRACKING_SETTINGS: NovelTrackingSettings = { notifyOnUpdate: true, notifyOnCompletion: false, wordCountThreshold: null };

/**
 * Tracks every novel of the list the user does not track yet (a
 * `qidian.novels` workflow's novels are always tracked novels), one after
 * the other, each holding its novel_tracking_limit unit; a novel tracked
 * already counts once. When one is refused (QUOTA_EXCEEDED at the limit, or
 * anything else), the novels this call tracked are untracked again (their
 * units given back) and the refusal thrown: all of the list is tracked, or
 * nothing changed. Returns the novels it tracked.
 */
export async function ensureNovelsTracked(call: TrackingCall, novelIds: readonly string[]): Promise<string[]> {
  const added: string[] = [];
  try {
    for (const novelId of novelIds) {
      const { state } = await loadTracking(call.store, novelTrackingId(call.userId, novelId));
      if (state.status === 'tracking') continue;
      try {
        await trackNovel(call, { novelId, title: null, settings: DEFAULT_TRACKING_SETTINGS });
        added.push(novelId);
      } catch (error) {
        // tracked meanwhile (another request): it holds its unit, nothing to add
        const after = await loadTracking(call.store, novelTrackingId(call.userId, novelId));
        if (after.state.status !== 'tracking') throw error;
      }
    }
  } catch (error) {
    for (const novelId of added.reverse()) {
      await untrackNovel(call, novelTrackingId(call.userId, novelId)).catch(() => undefined);
    }
    throw error;
  }
  return added;
}
