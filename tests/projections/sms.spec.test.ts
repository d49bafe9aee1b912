import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { smsProjection } from '../../src/projections/sms.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('sms-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const COLUMNS = [
    'id',
    'owner_id',
    'status',
    'to_number',
    'segments',
    'price_fen',
    'provider_message_id',
    'sender_number',
    'provider_price_micros',
    'provider_currency',
    'receipt_id',
    'error_code',
    'error_reason',
    'failure_code',
    'requested_at',
    'sent_at',
    'done_at',
    'finished_at',
    'last_revision',
  ];

  const requested = (id: string, owner: string, at = '2026-12-09T10:00:00.000Z') =>
    recorded(`sms_message-${id}`, 'SmsRequested', {
      messageId: id,
      ownerId: owner,
      to: '+8613800138000',
      country: 'CN',
      callingCode: '86',
      text: '你好',
      encoding: 'UCS-2',
      segments: 1,
      unitPriceFen: 5,
      priceFen: 5,
      requestedAt: at,
    });
  const sent = (id: string, owner: string) =>
    recorded(`sms_message-${id}`, 'SmsSent', {
      messageId: id,
      ownerId: owner,
      providerMessageId: 'SM1',
      senderNumber: '+8610690000001',
      providerPriceMicros: 7500,
      providerCurrency: 'USD',
      sentAt: '2026-12-09T10:00:01.000Z',
      source: 'send',
      recordedAt: '2026-12-09T10:00:02.000Z',
    });
  const delivered = (id: string, owner: string) =>
    recorded(`sms_message-${id}`, 'SmsDelivered', {
      messageId: id,
      ownerId: owner,
      providerMessageId: 'SM1',
      receiptId: 'DR1',
      deliveredAt: '2026-12-09T10:00:03.000Z',
      recordedAt: '2026-12-09T10:00:04.000Z',
    });

  it('a request is a pending row; its send and receipt fill it in, whatever the batching', async () => {
    const id = randomUUID();
    const owner = randomUUID();
    const events = [requested(id, owner), sent(id, owner), delivered(id, owner)];
    for (const batchSize of [500, 2, 1]) {
      await projectionSpec(knex, smsProjection, { batchSize })
        .given(events)
        .then('sms_messages', { where: { id }, columns: COLUMNS }, [
          {
            id,
            owner_id: owner,
            status: 'delivered',
            to_number: '+8613800138000',
            segments: 1,
            price_fen: 5,
            provider_message_id: 'SM1',
            sender_number: '+8610690000001',
            provider_price_micros: '7500',
            provider_currency: 'USD',
            receipt_id: 'DR1',
            error_code: null,
            error_reason: null,
            failure_code: null,
            requested_at: '2026-12-09T10:00:00.000Z',
            sent_at: '2026-12-09T10:00:01.000Z',
            done_at: '2026-12-09T10:00:03.000Z',
            finished_at: '2026-12-09T10:00:04.000Z',
            last_revision: '2',
          },
        ]);
    }
  });

  it('undelivered keeps the error; a failure its code; inbound messages are rows of their own', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const owner = randomUUID();
    const inboundId = `IN${randomUUID().replaceAll('-', '')}`;
    await projectionSpec(knex, smsProjection)
      .given([
        requested(a, owner),
        requested(b, owner, '2026-12-09T10:00:01.000Z'),
        sent(a, owner),
        recorded(`sms_message-${a}`, 'SmsUndelivered', {
          messageId: a,
          ownerId: owner,
          providerMessageId: 'SM1',
          receiptId: 'DR2',
          errorCode: 'ABSENT_SUBSCRIBER',
          errorReason: 'off',
          doneAt: '2026-12-09T10:00:05.000Z',
          recordedAt: '2026-12-09T10:00:06.000Z',
        }),
        recorded(`sms_message-${b}`, 'SmsFailed', {
          messageId: b,
          ownerId: owner,
          code: 'invalid_number',
          reason: 'refused',
          failedAt: '2026-12-09T10:00:07.000Z',
        }),
        recorded(`sms_inbound-${inboundId}`, 'SmsReceived', {
          providerMessageId: inboundId,
          from: '+8613800138000',
          to: '+8610690000001',
          text: '好',
          receivedAt: '2026-12-09T10:01:00.000Z',
          ownerId: owner,
          route: 'reply',
          replyTo: a,
          recordedAt: '2026-12-09T10:01:01.000Z',
        }),
      ])
      .thenAll([
        {
          table: 'sms_messages',
          query: { where: { owner_id: owner }, columns: ['id', 'status', 'error_code', 'error_reason', 'failure_code', 'finished_at'] },
          expected: [
            { id: a, status: 'undelivered', error_code: 'ABSENT_SUBSCRIBER', error_reason: 'off', failure_code: null, finished_at: '2026-12-09T10:00:06.000Z' },
            { id: b, status: 'failed', error_code: null, error_reason: null, failure_code: 'invalid_number', finished_at: '2026-12-09T10:00:07.000Z' },
          ].sort((x, y) => x.id.localeCompare(y.id)),
        },
        {
          table: 'sms_inbound',
          query: { where: { provider_message_id: inboundId }, columns: ['owner_id', 'route', 'reply_to', 'from_number', 'text'] },
          expected: [{ owner_id: owner, route: 'reply', reply_to: a, from_number: '+8613800138000', text: '好' }],
        },
      ]);
  });
});
