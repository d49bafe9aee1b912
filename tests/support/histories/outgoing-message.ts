import fc from 'fast-check';
import { SEND_FAILURE_CODES, outgoingMessageAggregate, type OutgoingMessageCommand } from '../../../src/write-model/outgoing-message/index.js';
import { historySource, sequence } from './harness.js';

export const outgoingMessageHistories = historySource(
  outgoingMessageAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('request', 'sent', 'failed'),
      who: fc.constantFrom('u1', 'u2'),
      target: fc.constantFrom('conversation', 'peer'),
      text: fc.constantFrom('你好', '在吗？', ' ', ''),
      code: fc.constantFrom(...SEND_FAILURE_CODES),
      recovered: fc.boolean(),
    }),
    (c, now): OutgoingMessageCommand =>
      c.kind === 'request'
        ? {
            type: 'RequestMessageSend',
            messageId: 'm1',
            ownerId: c.who,
            platform: 'xiaohongshu',
            platformAccountId: 'a1',
            conversationId: c.target === 'conversation' ? 'conv_1' : null,
            peerId: c.target === 'peer' ? 'p1' : null,
            text: c.text,
            now,
          }
        : c.kind === 'sent'
          ? {
              type: 'RecordMessageSent',
              messageId: 'm1',
              platformMessageId: 'pm1',
              conversationId: 'conv_1',
              peerId: null,
              sentAt: now,
              recovered: c.recovered,
              now,
            }
          : { type: 'RecordMessageSendFailed', messageId: 'm1', code: c.code, reason: 'because', now },
    20,
  ),
);
