import type { LedgerCharges } from '../application/ports/ledger.js';
import type { Turns } from '../application/ports/turns.js';
import { chargeSms, insufficientBalanceReason, PM_CHARGE_TURN, smsChargeTurnKey } from '../application/sms/charges.js';
import { sendLimitKey } from '../application/sms/org-key.js';
import type { SmsSendWindows } from '../application/sms/send-windows.js';
import type { Consumer } from '../consumers/consumer.js';
import type { RecordedEvent } from '../event-store/port.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { smsMessageAggregate } from '../write-model/sms-message/decider.js';
import { smsMessageEvents, type SmsRequestedData } from '../write-model/sms-message/events.js';
import { react, type ProcessManagerDeps } from './shared.js';
import type { SmsSendJobData, SmsSendOutbox } from './sms-ports.js';

export const SMS_MESSAGES = 'pm-sms-messages';

export interface SmsMessagesDeps extends ProcessManagerDeps {
  /** the `sms-send` queue; absent where SMS is not configured (a request then waits in its stream) or nothing is dispatched */
  outbox?: SmsSendOutbox;
  /** the prepaid balances; absent (not wired, or SMS_CHARGE_LEDGER=false): nothing is charged */
  ledger?: LedgerCharges;
  /** SMS_SENDS_PER_ORGANIZATION_PER_MINUTE's windows; absent: a batch's messages are queued at once */
  pacing?: SmsSendWindows;
  /** the API's charge turns (smsChargeTurnKey): a single send is read and charged in its message's turn; absent: no API charges beside this */
  chargeTurns?: Turns;
  /** charges in flight at once within a batch; default 32 */
  concurrency?: number;
}

/**
 * SmsRequested → the charge to the owner's balance (when a ledger is
 * wired: segments × the country's price, the event's id its source), then
 * one `sms-send` job (job id = message id), which the worker sends through
 * the provider (src/worker/sms-send-job.ts) and reports back as SmsSent /
 * SmsFailed; the provider's receipt then records the outcome. A balance
 * that cannot pay: SmsFailed insufficient_balance, nothing queued. A single
 * send is read and charged in its message's charge turn (smsChargeTurnKey),
 * which the API holds while it records, charges and perhaps fails it: one
 * the API refused (failed) is neither charged nor queued, whatever was
 * deposited since. The platform's own messages (`purpose`: a one-time code with its sealed body,
 * a notification) are never charged.
 *
 * A batch's messages (SmsRequested with a batchId) are paced by the
 * organization's send limit: each takes the first minute with room
 * (SmsSendWindows) and its job is delayed until then — delayed, never
 * refused. Single sends were counted by the API already.
 *
 * A batch's requests go to the queue in one bulk add. Idempotent: a
 * redelivered request charges nothing more (the ledger posts a source once)
 * and adds nothing (the job id exists; finished jobs are kept a week), and
 * the worker skips a message that is no longer pending. Charging and
 * queueing are calls outside the batch's transaction.
 */
export function createSmsMessages(deps: SmsMessagesDeps, name = SMS_MESSAGES): Consumer {
  const concurrency = Math.max(1, deps.concurrency ?? 32);

  /** Charged (or nothing to charge): true; the balance cannot pay: the message failed, false. */
  async function charge(event: RecordedEvent, r: SmsRequestedData): Promise<boolean> {
    const ledger = deps.ledger;
    if (!ledger || r.sealedText || r.purpose) return true;
    if (r.batchId) return chargeOrFail(event, r, ledger);
    // a single send is read and charged in its turn: once the API has charged it, or failed it
    const single = async () => {
      // failed already (the API's charge was refused): a top-up since must not pay for it
      const { state } = await load(deps.store, smsMessageAggregate, r.messageId);
      return state.status === 'pending' && chargeOrFail(event, r, ledger);
    };
    return deps.chargeTurns ? deps.chargeTurns.run(smsChargeTurnKey(r.messageId), PM_CHARGE_TURN, single) : single();
  }

  async function chargeOrFail(event: RecordedEvent, r: SmsRequestedData, ledger: LedgerCharges): Promise<boolean> {
    const result = await chargeSms(ledger, {
      messageId: r.messageId,
      ownerId: r.ownerId,
      country: r.country,
      segments: r.segments,
      batchId: r.batchId ?? null,
      requestedEventId: event.id,
    });
    if (result.ok) return true;
    await handle(
      deps.store,
      smsMessageAggregate,
      r.messageId,
      {
        type: 'RecordSmsFailed',
        messageId: r.messageId,
        code: 'insufficient_balance',
        reason: insufficientBalanceReason(result),
        now: new Date().toISOString(),
      },
      { context: contextFromEvent(event, name), eventIds: eventIdsFrom(`${name}:${event.id}:insufficient`) },
    );
    return false;
  }

  return {
    name,
    filter: { streamPrefixes: ['sms_message-'], eventTypes: ['SmsRequested'] },
    batchSize: 500,
    async handle(events) {
      const requested: { event: RecordedEvent; data: SmsRequestedData }[] = [];
      for (const event of events) {
        if (event.type !== 'SmsRequested') continue;
        const decoded = smsMessageEvents.decode(event);
        if (decoded.type === 'SmsRequested') requested.push({ event, data: decoded.data });
      }
      if (requested.length === 0) return;
      const paid: { event: RecordedEvent; data: SmsRequestedData }[] = [];
      const queue = [...requested];
      const worker = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const item = next;
          await react(deps, name, item.event, async () => {
            if (await charge(item.event, item.data)) paid.push(item);
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
      if (paid.length === 0) return;
      // in the order requested (charges finish in any order)
      paid.sort((a, b) => requested.indexOf(a) - requested.indexOf(b));
      await react(deps, name, paid[paid.length - 1]!.event, async () => {
        if (!deps.outbox) throw new Error(`${name}: no sms-send queue wired (SMS is not configured here)`);
        await deps.outbox.enqueueSmsSends(await paced(paid.map((p) => p.data)));
      });
    },
  };

  /** The jobs, a batch's messages delayed into the minutes with room under their organization's limit. */
  async function paced(messages: SmsRequestedData[]): Promise<SmsSendJobData[]> {
    const jobs: SmsSendJobData[] = messages.map((m) => ({ messageId: m.messageId, ownerId: m.ownerId }));
    if (!deps.pacing) return jobs;
    const byKey = new Map<string, number[]>();
    messages.forEach((m, i) => {
      if (!m.batchId) return;
      const key = sendLimitKey(m.organizationId, m.ownerId);
      const list = byKey.get(key);
      if (list) list.push(i);
      else byKey.set(key, [i]);
    });
    for (const [key, indexes] of byKey) {
      const delays = await deps.pacing.schedule(key, indexes.length);
      indexes.forEach((index, k) => {
        const delayMs = delays[k] ?? 0;
        if (delayMs > 0) jobs[index] = { ...jobs[index]!, delayMs };
      });
    }
    return jobs;
  }
}
