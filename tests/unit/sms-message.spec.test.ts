import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  countSegments,
  MAX_SMS_TEXT,
  smsInboundDecider,
  smsInboundStream,
  smsMessageDecider,
  smsMessageStream,
  smsUnitPriceFen,
  type RecordInboundSms,
  type RecordSmsFailed,
  type RecordSmsReceipt,
  type RecordSmsSent,
  type RequestSms,
  type SmsInboundEvent,
  type SmsMessageEvent,
} from '../../src/write-model/sms-message/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(smsMessageDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const MESSAGE = '0f8fad5b-d9cb-469f-a165-70867728950e';
const OWNER = 'user-1';
const T0 = '2026-12-09T10:00:00.000Z';
const T1 = '2026-12-09T10:00:01.000Z';
const T2 = '2026-12-09T10:00:02.000Z';
const T3 = '2026-12-09T10:00:09.000Z';
const ref = { messageId: MESSAGE, ownerId: OWNER };

const requestCmd: RequestSms = { type: 'RequestSms', ...ref, to: '+8613800138000', country: 'CN', callingCode: '86', text: '您的验证码是 123456', now: T0 };
const requested: SmsMessageEvent = {
  type: 'SmsRequested',
  data: {
    ...ref,
    to: '+8613800138000',
    country: 'CN',
    callingCode: '86',
    text: '您的验证码是 123456',
    encoding: 'UCS-2',
    segments: 1,
    unitPriceFen: 5,
    priceFen: 5,
    requestedAt: T0,
  },
};
const sentCmd: RecordSmsSent = {
  type: 'RecordSmsSent',
  messageId: MESSAGE,
  providerMessageId: 'SM1',
  senderNumber: '+8610690000001',
  providerPriceMicros: 7500,
  providerCurrency: 'USD',
  sentAt: T1,
  source: 'send',
  now: T2,
};
const sent: SmsMessageEvent = {
  type: 'SmsSent',
  data: {
    ...ref,
    providerMessageId: 'SM1',
    senderNumber: '+8610690000001',
    providerPriceMicros: 7500,
    providerCurrency: 'USD',
    sentAt: T1,
    source: 'send',
    recordedAt: T2,
  },
};
const deliveredCmd: RecordSmsReceipt = {
  type: 'RecordSmsReceipt',
  messageId: MESSAGE,
  providerMessageId: 'SM1',
  receiptId: 'DR1',
  status: 'DELIVERED',
  errorCode: null,
  errorReason: null,
  doneAt: T2,
  senderNumber: '+8610690000001',
  providerPriceMicros: 7500,
  providerCurrency: 'USD',
  now: T3,
};
const delivered: SmsMessageEvent = { type: 'SmsDelivered', data: { ...ref, providerMessageId: 'SM1', receiptId: 'DR1', deliveredAt: T2, recordedAt: T3 } };
const undeliveredCmd: RecordSmsReceipt = {
  ...deliveredCmd,
  receiptId: 'DR2',
  status: 'UNDELIVERED',
  errorCode: 'ABSENT_SUBSCRIBER',
  errorReason: 'the handset is off',
};
const undelivered: SmsMessageEvent = {
  type: 'SmsUndelivered',
  data: { ...ref, providerMessageId: 'SM1', receiptId: 'DR2', errorCode: 'ABSENT_SUBSCRIBER', errorReason: 'the handset is off', doneAt: T2, recordedAt: T3 },
};
const failCmd: RecordSmsFailed = {
  type: 'RecordSmsFailed',
  messageId: MESSAGE,
  code: 'invalid_number',
  reason: 'sms provider refused: INVALID_NUMBER',
  now: T2,
};
const failed: SmsMessageEvent = { type: 'SmsFailed', data: { ...ref, code: 'invalid_number', reason: 'sms provider refused: INVALID_NUMBER', failedAt: T2 } };

describe('sms message decider (sms_message-{id})', () => {
  it('names its stream', () => {
    expect(smsMessageStream(MESSAGE)).to.equal(`sms_message-${MESSAGE}`);
    expect(smsInboundStream('IN1')).to.equal('sms_inbound-IN1');
  });

  describe('RequestSms', () => {
    it('records the request with its encoding, segments and price from the catalogue', () => {
      spec.given([]).when(requestCmd).then([requested]);
    });

    it('prices every segment: a long GSM-7 text to the US is 2 segments of 8 fen', () => {
      const text = 'a'.repeat(161);
      spec
        .given([])
        .when({ ...requestCmd, to: '+12025550123', country: 'US', callingCode: '1', text })
        .then([
          {
            type: 'SmsRequested',
            data: {
              ...ref,
              to: '+12025550123',
              country: 'US',
              callingCode: '1',
              text,
              encoding: 'GSM-7',
              segments: 2,
              unitPriceFen: 8,
              priceFen: 16,
              requestedAt: T0,
            },
          },
        ]);
    });

    it('is a no-op when repeated, CONFLICT with other content under the same id', () => {
      spec.given([requested]).when(requestCmd).then([]);
      spec
        .given([requested])
        .when({ ...requestCmd, text: 'other' })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([requested])
        .when({ ...requestCmd, ownerId: 'user-2' })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses numbers not in E.164, a calling code that is not the number’s, and countries not served', () => {
      spec
        .given([])
        .when({ ...requestCmd, to: '13800138000' })
        .thenThrows(DomainError, field('to'));
      spec
        .given([])
        .when({ ...requestCmd, to: '+86 138 0013 8000' })
        .thenThrows(DomainError, field('to'));
      spec
        .given([])
        .when({ ...requestCmd, callingCode: '1' })
        .thenThrows(DomainError, field('callingCode'));
      spec
        .given([])
        .when({ ...requestCmd, country: 'KP' })
        .thenThrows(DomainError, (e: DomainError) => field('to')(e) && e.details.reason === 'country_not_served');
    });

    it('refuses blank, too long and NUL-bearing text, and a bad time', () => {
      for (const text of ['', '   ', 'a'.repeat(MAX_SMS_TEXT + 1), 'a\u0000b'])
        spec
          .given([])
          .when({ ...requestCmd, text })
          .thenThrows(DomainError, field('text'));
      spec
        .given([])
        .when({ ...requestCmd, now: 'yesterday' })
        .thenThrows(DomainError, field('now'));
      spec
        .given([])
        .when({ ...requestCmd, ownerId: '' })
        .thenThrows(DomainError, field('ownerId'));
    });
  });

  describe('RecordSmsSent', () => {
    it('records the provider’s acceptance of a pending message', () => {
      spec.given([requested]).when(sentCmd).then([sent]);
      spec
        .given([requested])
        .when({ ...sentCmd, senderNumber: null, providerPriceMicros: null, providerCurrency: null })
        .then([{ type: 'SmsSent', data: { ...sent.data, senderNumber: null, providerPriceMicros: null, providerCurrency: null } as never }]);
    });

    it('is a no-op once recorded (also after the outcome), CONFLICT under another provider id or after a failure', () => {
      spec.given([requested, sent]).when(sentCmd).then([]);
      spec
        .given([requested, sent, delivered])
        .when({ ...sentCmd, source: 'status_query' })
        .then([]);
      spec
        .given([requested, sent])
        .when({ ...sentCmd, providerMessageId: 'SM2' })
        .thenThrows(DomainError, code('CONFLICT'));
      spec.given([requested, failed]).when(sentCmd).thenThrows(DomainError, code('CONFLICT'));
    });

    it('needs a requested message and sane fields', () => {
      spec.given([]).when(sentCmd).thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([requested])
        .when({ ...sentCmd, providerMessageId: '' })
        .thenThrows(DomainError, field('providerMessageId'));
      spec
        .given([requested])
        .when({ ...sentCmd, providerPriceMicros: -1 })
        .thenThrows(DomainError, field('providerPriceMicros'));
      spec
        .given([requested])
        .when({ ...sentCmd, providerCurrency: 'usd' })
        .thenThrows(DomainError, field('providerCurrency'));
      spec
        .given([requested])
        .when({ ...sentCmd, source: 'guess' as never })
        .thenThrows(DomainError, field('source'));
      spec
        .given([requested])
        .when({ ...sentCmd, sentAt: 'soon' })
        .thenThrows(DomainError, field('sentAt'));
    });
  });

  describe('RecordSmsReceipt', () => {
    it('records DELIVERED and UNDELIVERED (with the provider’s code) of a sent message', () => {
      spec.given([requested, sent]).when(deliveredCmd).then([delivered]);
      spec.given([requested, sent]).when(undeliveredCmd).then([undelivered]);
      spec
        .given([requested, sent])
        .when({ ...undeliveredCmd, errorReason: null })
        .then([{ type: 'SmsUndelivered', data: { ...undelivered.data, errorReason: 'ABSENT_SUBSCRIBER' } as never }]);
    });

    it('records the send from a receipt that overtook the worker’s record', () => {
      spec
        .given([requested])
        .when(deliveredCmd)
        .then([
          {
            type: 'SmsSent',
            data: {
              ...ref,
              providerMessageId: 'SM1',
              senderNumber: '+8610690000001',
              providerPriceMicros: 7500,
              providerCurrency: 'USD',
              sentAt: T2,
              source: 'receipt',
              recordedAt: T3,
            },
          },
          delivered,
        ]);
      // the worker's record then finds it sent
      spec
        .given([requested, { type: 'SmsSent', data: { ...sent.data, source: 'receipt' } as never }, delivered])
        .when(sentCmd)
        .then([]);
    });

    it('is a no-op when replayed or out of order: the first outcome stands', () => {
      spec.given([requested, sent, delivered]).when(deliveredCmd).then([]);
      spec.given([requested, sent, delivered]).when(undeliveredCmd).then([]);
      spec.given([requested, sent, undelivered]).when(deliveredCmd).then([]);
      spec.given([requested, failed]).when(deliveredCmd).then([]);
    });

    it('refuses a receipt of another provider message, an unknown message and a bad receipt', () => {
      spec
        .given([requested, sent])
        .when({ ...deliveredCmd, providerMessageId: 'SM9' })
        .thenThrows(DomainError, code('CONFLICT'));
      spec.given([]).when(deliveredCmd).thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([requested, sent])
        .when({ ...undeliveredCmd, errorCode: null })
        .thenThrows(DomainError, field('errorCode'));
      spec
        .given([requested, sent])
        .when({ ...deliveredCmd, status: 'LOST' as never })
        .thenThrows(DomainError, field('status'));
      spec
        .given([requested, sent])
        .when({ ...deliveredCmd, receiptId: '' })
        .thenThrows(DomainError, field('receiptId'));
      spec
        .given([requested, sent])
        .when({ ...deliveredCmd, doneAt: '' })
        .thenThrows(DomainError, field('doneAt'));
    });
  });

  describe('RecordSmsFailed', () => {
    it('fails a pending message', () => {
      spec.given([requested]).when(failCmd).then([failed]);
    });

    it('is a no-op once sent, delivered or failed (a late failure never undoes a send)', () => {
      spec.given([requested, sent]).when(failCmd).then([]);
      spec.given([requested, sent, delivered]).when(failCmd).then([]);
      spec
        .given([requested, failed])
        .when({ ...failCmd, code: 'attempts_exhausted' })
        .then([]);
    });

    it('refuses an unknown message, an unknown code and a missing or long reason', () => {
      spec.given([]).when(failCmd).thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([requested])
        .when({ ...failCmd, code: 'bored' as never })
        .thenThrows(DomainError, field('code'));
      spec
        .given([requested])
        .when({ ...failCmd, reason: '' })
        .thenThrows(DomainError, field('reason'));
      spec
        .given([requested])
        .when({ ...failCmd, reason: 'x'.repeat(501) })
        .thenThrows(DomainError, field('reason'));
    });
  });

  it('folds to the outcome', () => {
    spec
      .given([requested, sent])
      .when(deliveredCmd)
      .thenState({
        status: 'delivered',
        ...ref,
        to: '+8613800138000',
        country: 'CN',
        callingCode: '86',
        text: '您的验证码是 123456',
        encoding: 'UCS-2',
        segments: 1,
        priceFen: 5,
        requestedAt: T0,
        providerMessageId: 'SM1',
        receiptId: 'DR1',
        failure: null,
      });
  });
});

describe('sms inbound decider (sms_inbound-{providerMessageId})', () => {
  const inbound = deciderSpec(smsInboundDecider);
  const cmd: RecordInboundSms = {
    type: 'RecordInboundSms',
    providerMessageId: 'IN1',
    from: '+8613800138000',
    to: '+8610690000001',
    text: '收到，谢谢',
    receivedAt: T1,
    ownerId: OWNER,
    route: 'reply',
    replyTo: MESSAGE,
    now: T2,
  };
  const received: SmsInboundEvent = {
    type: 'SmsReceived',
    data: {
      providerMessageId: 'IN1',
      from: '+8613800138000',
      to: '+8610690000001',
      text: '收到，谢谢',
      receivedAt: T1,
      ownerId: OWNER,
      route: 'reply',
      replyTo: MESSAGE,
      recordedAt: T2,
    },
  };

  it('records a routed reply and an unrouted message', () => {
    inbound.given([]).when(cmd).then([received]);
    inbound
      .given([])
      .when({ ...cmd, ownerId: null, route: 'unrouted', replyTo: null })
      .then([{ type: 'SmsReceived', data: { ...received.data, ownerId: null, route: 'unrouted', replyTo: null } }]);
  });

  it('records once: a repeat is a no-op whatever it would route to now, other content is CONFLICT', () => {
    inbound.given([received]).when(cmd).then([]);
    inbound
      .given([received])
      .when({ ...cmd, ownerId: null, route: 'unrouted', replyTo: null })
      .then([]);
    inbound
      .given([received])
      .when({ ...cmd, text: 'other' })
      .thenThrows(DomainError, code('CONFLICT'));
  });

  it('refuses bad numbers, ids, routes and text', () => {
    inbound
      .given([])
      .when({ ...cmd, from: '13800138000' })
      .thenThrows(DomainError, field('from'));
    inbound
      .given([])
      .when({ ...cmd, to: 'ours' })
      .thenThrows(DomainError, field('to'));
    inbound
      .given([])
      .when({ ...cmd, providerMessageId: 'a/b' })
      .thenThrows(DomainError, field('providerMessageId'));
    inbound
      .given([])
      .when({ ...cmd, ownerId: null })
      .thenThrows(DomainError, field('route'));
    inbound
      .given([])
      .when({ ...cmd, route: 'unrouted' })
      .thenThrows(DomainError, field('route'));
    inbound
      .given([])
      .when({ ...cmd, text: 'x'.repeat(5001) })
      .thenThrows(DomainError, field('text'));
    inbound
      .given([])
      .when({ ...cmd, receivedAt: 'now' })
      .thenThrows(DomainError, field('receivedAt'));
  });
});

describe('sms segments and prices', () => {
  it('counts GSM-7: 160 in one, 153 per segment after; extension characters take two and never split', () => {
    expect(countSegments('a'.repeat(160))).to.deep.equal({ encoding: 'GSM-7', segments: 1, units: 160 });
    expect(countSegments('a'.repeat(161))).to.deep.equal({ encoding: 'GSM-7', segments: 2, units: 161 });
    expect(countSegments('a'.repeat(306))).to.include({ segments: 2 });
    expect(countSegments('a'.repeat(307))).to.include({ segments: 3 });
    expect(countSegments('€'.repeat(80))).to.deep.equal({ encoding: 'GSM-7', segments: 1, units: 160 });
    // 152 septets then a 2-septet character: it goes whole to the next segment
    expect(countSegments(`${'a'.repeat(152)}{${'a'.repeat(10)}`)).to.include({ encoding: 'GSM-7', segments: 2, units: 164 });
    expect(countSegments('')).to.include({ segments: 0 });
  });

  it('counts UCS-2 for anything else: 70 in one, 67 after; an emoji is two units and never split', () => {
    expect(countSegments('你'.repeat(70))).to.deep.equal({ encoding: 'UCS-2', segments: 1, units: 70 });
    expect(countSegments('你'.repeat(71))).to.deep.equal({ encoding: 'UCS-2', segments: 2, units: 71 });
    expect(countSegments('你'.repeat(134))).to.include({ segments: 2 });
    expect(countSegments('你'.repeat(135))).to.include({ segments: 3 });
    expect(countSegments(`${'a'.repeat(66)}😀`)).to.deep.equal({ encoding: 'UCS-2', segments: 1, units: 68 });
    expect(countSegments(`${'a'.repeat(66)}😀${'a'.repeat(3)}`)).to.deep.equal({ encoding: 'UCS-2', segments: 2, units: 71 });
    expect(countSegments('Hello é Ç')).to.include({ encoding: 'GSM-7' });
    expect(countSegments('Hello ê')).to.include({ encoding: 'UCS-2' });
  });

  it('prices per country in fen per segment; an unknown country has none', () => {
    expect(smsUnitPriceFen('CN')).to.equal(5);
    expect(smsUnitPriceFen('US')).to.equal(8);
    expect(smsUnitPriceFen('KP')).to.equal(null);
    expect(smsUnitPriceFen('constructor')).to.equal(null);
  });
});
