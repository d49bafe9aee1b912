import fc from 'fast-check';
import {
  SMS_FAILURE_CODES,
  smsInboundAggregate,
  smsMessageAggregate,
  type SmsInboundCommand,
  type SmsMessageCommand,
} from '../../../src/write-model/sms-message/index.js';
import { historySource, sequence } from './harness.js';

export const smsMessageHistories = historySource(
  smsMessageAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('request', 'sent', 'receipt', 'failed'),
      who: fc.constantFrom('u1', 'u2'),
      to: fc.constantFrom('+8613800138000', '+12025550123', '+821012345678'),
      country: fc.constantFrom('CN', 'US', 'XX'),
      text: fc.constantFrom('你好', 'hello', ' ', '', '[x]'.repeat(60)),
      provider: fc.constantFrom('p1', 'p2'),
      status: fc.constantFrom('DELIVERED' as const, 'UNDELIVERED' as const),
      code: fc.constantFrom(...SMS_FAILURE_CODES),
      priced: fc.boolean(),
    }),
    (c, now): SmsMessageCommand =>
      c.kind === 'request'
        ? {
            type: 'RequestSms',
            messageId: 'm1',
            ownerId: c.who,
            to: c.to,
            country: c.country,
            callingCode: c.to.startsWith('+86') ? '86' : '1',
            text: c.text,
            now,
          }
        : c.kind === 'sent'
          ? {
              type: 'RecordSmsSent',
              messageId: 'm1',
              providerMessageId: c.provider,
              senderNumber: c.priced ? '+8610690000001' : null,
              providerPriceMicros: c.priced ? 7500 : null,
              providerCurrency: c.priced ? 'USD' : null,
              sentAt: now,
              source: 'send',
              now,
            }
          : c.kind === 'receipt'
            ? {
                type: 'RecordSmsReceipt',
                messageId: 'm1',
                providerMessageId: c.provider,
                receiptId: `r-${c.provider}`,
                status: c.status,
                errorCode: c.status === 'UNDELIVERED' ? 'ABSENT_SUBSCRIBER' : null,
                errorReason: null,
                doneAt: now,
                senderNumber: null,
                providerPriceMicros: null,
                providerCurrency: null,
                now,
              }
            : { type: 'RecordSmsFailed', messageId: 'm1', code: c.code, reason: 'because', now },
    20,
  ),
);

export const smsInboundHistories = historySource(
  smsInboundAggregate,
  sequence(
    fc.record({ text: fc.constantFrom('好的', 'STOP', ''), routed: fc.boolean() }),
    (c, now): SmsInboundCommand => ({
      type: 'RecordInboundSms',
      providerMessageId: 'in-1',
      from: '+8613800138000',
      to: '+8610690000001',
      text: c.text,
      receivedAt: now,
      ownerId: c.routed ? 'u1' : null,
      route: c.routed ? 'reply' : 'unrouted',
      replyTo: c.routed ? 'm1' : null,
      now,
    }),
    5,
  ),
);
