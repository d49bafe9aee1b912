import { randomUUID } from 'node:crypto';
import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { novelAlertAggregate, type NovelAlertEvent, type NovelAlertKind, type NovelAlertState } from '../write-model/novel-alert/index.js';
import { loadTracking, novelTrackingId } from './novel-trackings.js';
import { releaseResource, reserveResource, type QuotaCall } from './subscription-quotas.js';

/**
 * Novel alert rules (NovelAlert aggregate, `novel_alert-{alertId}`): each
 * holds one unit of the qidian plan's alert_notifications (resource id =
 * the alert id) while it exists. pm-qidian-alerts fires them.
 *
 * - create: the novel must be one the user tracks (CONFLICT otherwise,
 *   `details.reason: novel_not_tracked`); reserve (QUOTA_EXCEEDED at the
 *   limit, nothing created), then CreateNovelAlert; a refused create gives
 *   the unit back.
 * - delete: DeleteNovelAlert, then release — also on a repeat, so a DELETE
 *   retried after a failed release heals the quota.
 */

export const ALERT_FEATURE = 'alert_notifications';

export interface AlertCall {
  store: EventStore;
  userId: string;
  now: Date;
  /** config QUOTA_TIME_ZONE */
  timeZone: string;
  context: CommandContext;
}

type Result = HandleResult<NovelAlertState, NovelAlertEvent>;

function quotaCall(call: AlertCall): QuotaCall {
  return { store: call.store, userId: call.userId, service: 'qidian', now: call.now, timeZone: call.timeZone, context: call.context };
}

export async function loadAlert(store: EventStore, alertId: string): Promise<{ state: NovelAlertState; revision: bigint }> {
  return load(store, novelAlertAggregate, alertId);
}

export async function createAlert(
  call: AlertCall,
  input: { novelId: string; kind: NovelAlertKind; words: number | null },
): Promise<Result & { alertId: string }> {
  const { state: tracking } = await loadTracking(call.store, novelTrackingId(call.userId, input.novelId));
  if (tracking.status !== 'tracking') {
    throw new DomainError('CONFLICT', `novel ${input.novelId} is not tracked: track it first`, { novelId: input.novelId, reason: 'novel_not_tracked' });
  }
  const alertId = randomUUID();
  await reserveResource(quotaCall(call), ALERT_FEATURE, alertId);
  try {
    const result = await handle(
      call.store,
      novelAlertAggregate,
      alertId,
      { type: 'CreateNovelAlert', alertId, userId: call.userId, novelId: input.novelId, kind: input.kind, words: input.words, now: call.now.toISOString() },
      { context: call.context, expectedRevision: 'no_stream' },
    );
    return { ...result, alertId };
  } catch (error) {
    await releaseResource(quotaCall(call), ALERT_FEATURE, alertId).catch(() => undefined);
    throw error;
  }
}

export async function changeAlert(
  call: AlertCall,
  alertId: string,
  change: { kind?: NovelAlertKind; words?: number | null },
  expectedRevision?: bigint,
): Promise<Result> {
  return handle(
    call.store,
    novelAlertAggregate,
    alertId,
    { type: 'ChangeNovelAlert', alertId, requestedBy: call.userId, ...change, now: call.now.toISOString() },
    { context: call.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
}

export async function deleteAlert(call: AlertCall, alertId: string, expectedRevision?: bigint): Promise<Result> {
  const result = await handle(
    call.store,
    novelAlertAggregate,
    alertId,
    { type: 'DeleteNovelAlert', alertId, requestedBy: call.userId, now: call.now.toISOString() },
    { context: call.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
  await releaseResource(quotaCall(call), ALERT_FEATURE, alertId);
  return result;
}
