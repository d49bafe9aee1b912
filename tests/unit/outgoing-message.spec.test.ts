import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  clientMessageIdFor,
  MAX_MESSAGE_TEXT,
  outgoingMessageDecider,
  outgoingMessageStream,
  type OutgoingMessageEvent,
  type RecordMessageSendFailed,
  type RecordMessageSent,
  type RequestMessageSend,
} from '../../src/write-model/outgoing-message/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(outgoingMessageDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const MESSAGE = '0f8fad5b-d9cb-469f-a165-70867728950e';
const OWNER = 'user-1';
const ACCOUNT = 'account-1';
const T0 = '2026-12-07T10:00:00.000Z';
const T1 = '2026-12-07T10:00:05.000Z';
const T2 = '2026-12-07T10:00:06.000Z';
const ref = { messageId: MESSAGE, ownerId: OWNER, platformAccountId: ACCOUNT };

const requestCmd: RequestMessageSend = {
  type: 'RequestMessageSend',
  ...ref,
  platform: 'xiaohongshu',
  conversationId: 'conv_1',
  peerId: null,
  text: '你好，在吗？',
  now: T0,
};
const requested: OutgoingMessageEvent = {
  type: 'MessageSendRequested',
  data: {
    ...ref,
    platform: 'xiaohongshu',
    conversationId: 'conv_1',
    peerId: null,
    text: '你好，在吗？',
    clientMessageId: clientMessageIdFor(MESSAGE),
    requestedAt: T0,
  },
};
const sentCmd: RecordMessageSent = {
  type: 'RecordMessageSent',
  messageId: MESSAGE,
  platformMessageId: '1786334340000002',
  conversationId: 'conv_1',
  peerId: 'peer-1',
  sentAt: T1,
  recovered: false,
  now: T2,
};
const sent: OutgoingMessageEvent = {
  type: 'MessageSent',
  data: { ...ref, platformMessageId: '1786334340000002', conversationId: 'conv_1', peerId: 'peer-1', sentAt: T1, recovered: false, recordedAt: T2 },
};
const failCmd: RecordMessageSendFailed = { type: 'RecordMessageSendFailed', messageId: MESSAGE, code: 'rejected', reason: 'api_code_-9104', now: T2 };
const failed: OutgoingMessageEvent = { type: 'MessageSendFailed', data: { ...ref, code: 'rejected', reason: 'api_code_-9104', failedAt: T2 } };

describe('OutgoingMessage', () => {
  it('lives in the stream outgoing_message-{id}, starts with nothing, and echoes a client id made of its id', () => {
    expect(outgoingMessageStream('abc')).to.equal('outgoing_message-abc');
    expect(outgoingMessageDecider.initialState()).to.deep.equal({ status: 'none' });
    expect(clientMessageIdFor(MESSAGE)).to.equal('cm0f8fad5bd9cb469fa16570867728950e');
  });

  describe('RequestMessageSend', () => {
    it('records the request to a conversation or to a peer', () => {
      spec.given([]).when(requestCmd).then([requested]);
      spec
        .given([])
        .when({ ...requestCmd, conversationId: null, peerId: '2a234a19a702f3bd224623bb' })
        .then([{ type: 'MessageSendRequested', data: { ...requested.data, conversationId: null, peerId: '2a234a19a702f3bd224623bb' } as never }]);
    });

    it('wants exactly one of conversation and peer', () => {
      spec
        .given([])
        .when({ ...requestCmd, conversationId: null, peerId: null })
        .thenThrows(DomainError, field('conversationId'));
      spec
        .given([])
        .when({ ...requestCmd, peerId: 'p' })
        .thenThrows(DomainError, field('conversationId'));
    });

    it('refuses a blank, too long or NUL-bearing text; keeps the text as written', () => {
      spec
        .given([])
        .when({ ...requestCmd, text: '   ' })
        .thenThrows(DomainError, field('text'));
      spec
        .given([])
        .when({ ...requestCmd, text: 'a'.repeat(MAX_MESSAGE_TEXT + 1) })
        .thenThrows(DomainError, field('text'));
      spec
        .given([])
        .when({ ...requestCmd, text: 'a\u0000b' })
        .thenThrows(DomainError, field('text'));
      spec
        .given([])
        .when({ ...requestCmd, text: ' 你好 ' })
        .then([{ type: 'MessageSendRequested', data: { ...requested.data, text: ' 你好 ' } as never }]);
      spec
        .given([])
        .when({ ...requestCmd, text: 'a'.repeat(MAX_MESSAGE_TEXT) })
        .then([{ type: 'MessageSendRequested', data: { ...requested.data, text: 'a'.repeat(MAX_MESSAGE_TEXT) } as never }]);
      // characters, not UTF-16 units: an emoji outside the BMP counts once
      const emoji = '😀'.repeat(MAX_MESSAGE_TEXT);
      spec
        .given([])
        .when({ ...requestCmd, text: emoji })
        .then([{ type: 'MessageSendRequested', data: { ...requested.data, text: emoji } as never }]);
      spec
        .given([])
        .when({ ...requestCmd, text: `${emoji}😀` })
        .thenThrows(DomainError, field('text'));
    });

    it('a repeat is a no-op, other content under the same id a CONFLICT', () => {
      spec.given([requested]).when(requestCmd).then([]);
      spec.given([requested, sent]).when(requestCmd).then([]);
      spec
        .given([requested])
        .when({ ...requestCmd, text: '别的' })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([requested])
        .when({ ...requestCmd, ownerId: 'user-2' })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('wants a time with a zone', () => {
      spec
        .given([])
        .when({ ...requestCmd, now: 'yesterday' })
        .thenThrows(DomainError, field('now'));
    });
  });

  describe('RecordMessageSent', () => {
    it('records the send once; the first record stays', () => {
      spec.given([requested]).when(sentCmd).then([sent]);
      spec
        .given([requested, sent])
        .when({ ...sentCmd, platformMessageId: 'other' })
        .then([]);
    });

    it('keeps the requested peer when the platform names none, and marks a recovered send', () => {
      spec
        .given([requested])
        .when({ ...sentCmd, peerId: null, recovered: true })
        .then([{ type: 'MessageSent', data: { ...sent.data, peerId: null, recovered: true } as never }]);
    });

    it('an unknown message is NOT_FOUND, a failed one CONFLICT', () => {
      spec.given([]).when(sentCmd).thenThrows(DomainError, code('NOT_FOUND'));
      spec.given([requested, failed]).when(sentCmd).thenThrows(DomainError, code('CONFLICT'));
    });

    it('wants the platform ids', () => {
      spec
        .given([requested])
        .when({ ...sentCmd, platformMessageId: '' })
        .thenThrows(DomainError, field('platformMessageId'));
      spec
        .given([requested])
        .when({ ...sentCmd, conversationId: '' })
        .thenThrows(DomainError, field('conversationId'));
    });
  });

  describe('RecordMessageSendFailed', () => {
    it('fails a pending message; a sent or failed one stays as it is', () => {
      spec.given([requested]).when(failCmd).then([failed]);
      spec.given([requested, sent]).when(failCmd).then([]);
      spec
        .given([requested, failed])
        .when({ ...failCmd, code: 'attempts_exhausted' })
        .then([]);
    });

    it('wants a known code and a bounded reason; an unknown message is NOT_FOUND', () => {
      spec
        .given([requested])
        .when({ ...failCmd, code: 'whatever' as never })
        .thenThrows(DomainError, field('code'));
      spec
        .given([requested])
        .when({ ...failCmd, reason: 'x'.repeat(501) })
        .thenThrows(DomainError, field('reason'));
      spec.given([]).when(failCmd).thenThrows(DomainError, code('NOT_FOUND'));
    });
  });

  it('folds to the status a decision needs', () => {
    spec
      .given([requested])
      .when(sentCmd)
      .thenState({
        status: 'sent',
        messageId: MESSAGE,
        ownerId: OWNER,
        platform: 'xiaohongshu',
        platformAccountId: ACCOUNT,
        conversationId: 'conv_1',
        peerId: null,
        text: '你好，在吗？',
        clientMessageId: clientMessageIdFor(MESSAGE),
        requestedAt: T0,
        platformMessageId: '1786334340000002',
        failure: null,
      });
  });
});
