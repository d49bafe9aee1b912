import type { Consumer } from '../consumers/consumer.js';
import type { RecordedEvent } from '../event-store/port.js';
import { quotaDay } from '../application/quota-day.js';
import { ledgerEvents } from '../write-model/ledger/events.js';
import { paymentOrderEvents } from '../write-model/payment-order/events.js';
import { smsMessageEvents } from '../write-model/sms-message/events.js';
import { workflowExecutionEvents } from '../write-model/workflow-execution/events.js';
import { insertNewRows, upsertRows, type Row } from './sql-batch.js';

/**
 * The operators' finance records (`finance_records`, GET /admin/finance/profit):
 * one row per fact, by day in QUOTA_TIME_ZONE, keyed by its event id (a
 * redelivery inserts nothing):
 *
 * - revenue: `plan_payment` (PaymentSucceeded), `plan_refund`
 *   (PaymentRefunded, negative), `ledger_charge` (ChargePosted);
 * - cash held for customers, not revenue: `top_up` (TopUpPaid),
 *   `top_up_refund` (TopUpRefunded, negative);
 * - uses that cost us: `proxy_use` (ProxyAssigned: the proxy), `sms_message`
 *   (SmsSent: its segments and country, from `finance_sms`, which keeps each
 *   SmsRequested's). Their cost is priced when asked (PROXY_COST_PER_USE_CENTS,
 *   SMS_COST_CENTS_DEFAULT and the per-proxy / per-country tables), so the
 *   records stay facts a rebuild gives again.
 */
export const FINANCE_PROJECTION = 'finance-v1';

const TYPES = ['PaymentSucceeded', 'PaymentRefunded', 'TopUpPaid', 'TopUpRefunded', 'ChargePosted', 'ProxyAssigned', 'SmsRequested', 'SmsSent'] as const;

export function createFinanceProjection(options: { timeZone: string }, name: string = FINANCE_PROJECTION): Consumer {
  const dayOf = (at: string) => quotaDay(new Date(at), options.timeZone).day;
  return {
    name,
    filter: { streamPrefixes: ['payment-', 'ledger-', 'workflow_execution-', 'sms_message-'], eventTypes: TYPES },
    async handle(events, { tx }) {
      const records: Row[] = [];
      const requested: Row[] = [];
      const sent: { id: string; messageId: string; at: string }[] = [];
      const record = (
        e: RecordedEvent,
        kind: string,
        at: string,
        fields: { amount_cents?: number; units?: number; proxy_id?: string | null; country?: string | null },
      ) =>
        records.push({
          record_id: e.id,
          kind,
          day: dayOf(at),
          at,
          amount_cents: fields.amount_cents ?? 0,
          units: fields.units ?? 0,
          proxy_id: fields.proxy_id ?? null,
          country: fields.country ?? null,
        });
      for (const e of events) {
        if (e.streamName.startsWith('payment-') && paymentOrderEvents.owns(e.type)) {
          const d = paymentOrderEvents.decode(e);
          if (d.type === 'PaymentSucceeded') record(e, 'plan_payment', d.data.paidAt, { amount_cents: d.data.amountFen });
          else if (d.type === 'PaymentRefunded') record(e, 'plan_refund', d.data.refundedAt, { amount_cents: -d.data.amountFen });
          else if (d.type === 'TopUpPaid') record(e, 'top_up', d.data.paidAt, { amount_cents: d.data.amountFen });
          else if (d.type === 'TopUpRefunded') record(e, 'top_up_refund', d.data.refundedAt, { amount_cents: -d.data.refundedFen });
        } else if (e.streamName.startsWith('ledger-') && e.type === 'ChargePosted') {
          const d = ledgerEvents.decode(e);
          if (d.type === 'ChargePosted') record(e, 'ledger_charge', d.data.postedAt, { amount_cents: d.data.amountCents, units: d.data.quantity });
        } else if (e.streamName.startsWith('workflow_execution-') && e.type === 'ProxyAssigned') {
          const d = workflowExecutionEvents.decode(e);
          if (d.type === 'ProxyAssigned') record(e, 'proxy_use', d.data.assignedAt, { units: 1, proxy_id: d.data.proxyId });
        } else if (e.streamName.startsWith('sms_message-') && (e.type === 'SmsRequested' || e.type === 'SmsSent')) {
          const d = smsMessageEvents.decode(e);
          if (d.type === 'SmsRequested') requested.push({ message_id: d.data.messageId, country: d.data.country, segments: d.data.segments });
          else if (d.type === 'SmsSent') sent.push({ id: e.id, messageId: d.data.messageId, at: d.data.sentAt });
        }
      }
      await upsertRows(tx, 'finance_sms', requested, { conflict: ['message_id'] });
      if (sent.length > 0) {
        const known = new Map(
          (
            await tx('finance_sms')
              .whereIn('message_id', [...new Set(sent.map((s) => s.messageId))])
              .select('message_id', 'country', 'segments')
          ).map((r: { message_id: string; country: string; segments: number }) => [r.message_id, r] as const),
        );
        for (const s of sent) {
          const m = known.get(s.messageId);
          records.push({
            record_id: s.id,
            kind: 'sms_message',
            day: dayOf(s.at),
            at: s.at,
            amount_cents: 0,
            units: m?.segments ?? 1,
            proxy_id: null,
            country: m?.country ?? null,
          });
        }
      }
      await insertNewRows(tx, 'finance_records', records, { conflict: ['record_id'], returning: ['record_id'] });
    },
  };
}
