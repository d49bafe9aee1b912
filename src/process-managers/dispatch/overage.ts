import type { RecordedEvent } from '../../event-store/port.js';
import type { ExecutionRequestedData } from '../../write-model/workflow-execution/events.js';
import type { Rejection } from './admission.js';
import type { DispatchExecutionsDeps } from './deps.js';

/**
 * A run refused for its daily quota, charged to the owner's balance instead
 * when their holder opted in (ledger setting `overage`) and the balance and
 * credit cover it: null, the run goes. The charge's source is the request
 * (ExecutionRequested): a redelivery finds it posted and lets the run go
 * again, never charging twice. Otherwise the refusal stands, saying why the
 * balance did not pay (details.overage).
 */
export async function payOverRun(
  deps: DispatchExecutionsDeps,
  recorded: RecordedEvent,
  request: ExecutionRequestedData,
  rejection: Rejection,
): Promise<Rejection | null> {
  if (!deps.overage || rejection.reason !== 'QUOTA_EXCEEDED') return rejection;
  const feature = typeof rejection.details?.feature === 'string' ? rejection.details.feature : 'daily';
  const charged = await deps.overage({
    userId: request.ownerId,
    item: 'collection_run',
    quantity: 1,
    sourceEventId: recorded.id,
    sourceStream: recorded.streamName,
    reason: `collection run ${request.executionId} past the ${feature} quota`,
  });
  if (charged === null) return rejection;
  if (charged.ok) return null;
  return {
    ...rejection,
    details: { ...rejection.details, overage: { refused: charged.reason, amount_cents: charged.amountCents, available_cents: charged.availableCents } },
  };
}
