import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { outgoingMessagesProjection } from '../../src/projections/outgoing-messages.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('xiaohongshu-outgoing-messages-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const COLUMNS = [
    'id',
    'owner_id',
    'status',
    'conversation_id',
    'peer_id',
    'text',
    'platform_message_id',
    'recovered',
    'failure_code',
    'failure_reason',
    'requested_at',
    'sent_at',
    'finished_at',
    'last_revision',
  ];

  const requestedEvent = (id: string, owner: string, target: { conversationId: string | null; peerId: string | null }, at: string) =>
    recorded(`outgoing_message-${id}`, 'MessageSendRequested', {
      messageId: id,
      ownerId: owner,
      platformAccountId: 'acc-1',
      platform: 'xiaohongshu',
      ...target,
      text: '你好',
      clientMessageId: `cm${id.replaceAll('-', '')}`,
      requestedAt: at,
    });
  const sentEvent = (id: string, owner: string, recovered = false) =>
    recorded(`outgoing_message-${id}`, 'MessageSent', {
      messageId: id,
      ownerId: owner,
      platformAccountId: 'acc-1',
      platformMessageId: '1786334340000002',
      conversationId: 'conv_new',
      peerId: '2a234a19a702f3bd224623bb',
      sentAt: '2026-12-07T10:00:05.000Z',
      recovered,
      recordedAt: '2026-12-07T10:00:06.000Z',
    });
  const failedEvent = (id: string, owner: string) =>
    recorded(`outgoing_message-${id}`, 'MessageSendFailed', {
      messageId: id,
      ownerId: owner,
      platformAccountId: 'acc-1',
      code: 'rejected',
      reason: 'api_code_-9104',
      failedAt: '2026-12-07T10:01:00.000Z',
    });

  it('a request is a pending row; its send fills in the platform ids, whatever the batching', async () => {
    const id = randomUUID();
    const owner = randomUUID();
    const events = [
      requestedEvent(id, owner, { conversationId: null, peerId: '2a234a19a702f3bd224623bb' }, '2026-12-07T10:00:00.000Z'),
      sentEvent(id, owner, true),
    ];
    for (const batchSize of [500, 1]) {
      await projectionSpec(knex, outgoingMessagesProjection, { batchSize })
        .given(events)
        .then('xiaohongshu_outgoing_messages', { where: { id }, columns: COLUMNS }, [
          {
            id,
            owner_id: owner,
            status: 'sent',
            conversation_id: 'conv_new',
            peer_id: '2a234a19a702f3bd224623bb',
            text: '你好',
            platform_message_id: '1786334340000002',
            recovered: true,
            failure_code: null,
            failure_reason: null,
            requested_at: '2026-12-07T10:00:00.000Z',
            sent_at: '2026-12-07T10:00:05.000Z',
            finished_at: '2026-12-07T10:00:06.000Z',
            last_revision: '1',
          },
        ]);
    }
  });

  it('a failure records its code and reason; requests of other owners stay apart and pending', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const [u1, u2] = [randomUUID(), randomUUID()];
    await projectionSpec(knex, outgoingMessagesProjection)
      .given([
        requestedEvent(a, u1, { conversationId: 'conv_1', peerId: null }, '2026-12-07T10:00:00.000Z'),
        requestedEvent(b, u2, { conversationId: 'conv_2', peerId: null }, '2026-12-07T10:00:01.000Z'),
        failedEvent(a, u1),
      ])
      .thenQuery(
        (tx) =>
          tx('xiaohongshu_outgoing_messages')
            .whereIn('id', [a, b])
            .orderBy('requested_at')
            .select('owner_id', 'status', 'conversation_id', 'failure_code', 'failure_reason', 'finished_at'),
        [
          {
            owner_id: u1,
            status: 'failed',
            conversation_id: 'conv_1',
            failure_code: 'rejected',
            failure_reason: 'api_code_-9104',
            finished_at: '2026-12-07T10:01:00.000Z',
          },
          { owner_id: u2, status: 'pending', conversation_id: 'conv_2', failure_code: null, failure_reason: null, finished_at: null },
        ],
      );
  });
});
