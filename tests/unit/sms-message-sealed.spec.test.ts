import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import type { SealedSecret } from '../../src/write-model/core/sealed-secret.js';
import { smsMessageDecider, smsMessageEvents, type RequestSms, type SmsMessageEvent } from '../../src/write-model/sms-message/index.js';
import { deciderSpec } from '../support/decider-spec.js';

/** One-time codes' SMS: the body sealed in the event, the text masked; and the platform's notifications. */
const spec = deciderSpec(smsMessageDecider);
const MESSAGE = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const T0 = '2026-12-10T10:00:00.000Z';
const BOX: SealedSecret = { keyId: 'k1', iv: 'aXYxMjM0NTY3ODk=', tag: 'dGFnMTIzNDU2Nzg5MDEyMw==', ciphertext: 'U0VDUkVU' };
const OTHER_BOX: SealedSecret = { ...BOX, ciphertext: 'T1RIRVI=' };
const MASKED = 'Collector 登录验证码 / login code: •••••• (10 min)';

const request = (overrides: Partial<RequestSms> = {}): RequestSms => ({
  type: 'RequestSms',
  messageId: MESSAGE,
  ownerId: 'user-1',
  to: '+8613800138000',
  country: 'CN',
  callingCode: '86',
  text: MASKED,
  sealedText: BOX,
  purpose: 'login_code',
  now: T0,
  ...overrides,
});
const requested: SmsMessageEvent = {
  type: 'SmsRequested',
  data: {
    messageId: MESSAGE,
    ownerId: 'user-1',
    to: '+8613800138000',
    country: 'CN',
    callingCode: '86',
    text: MASKED,
    sealedText: BOX,
    purpose: 'login_code',
    encoding: 'UCS-2',
    segments: 1,
    unitPriceFen: 5,
    priceFen: 5,
    requestedAt: T0,
  },
};
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

describe('SMS message: a sealed body (one-time codes) and the platform purposes', () => {
  it('records the masked text, the sealed body and the purpose; the state keeps the box for the worker', () => {
    spec.given([]).when(request()).then([requested]);
    expect(fold(smsMessageDecider, [requested])).to.deep.include({ text: MASKED, sealedText: BOX });
  });

  it('refuses a code in clear beside a sealed body, a box that is not one, a sealed body without a code purpose', () => {
    spec
      .given([])
      .when(request({ text: 'login code: 123456' }))
      .thenThrows(DomainError, field('text'));
    spec
      .given([])
      .when(request({ sealedText: { ...BOX, code: '123456' } as never }))
      .thenThrows(DomainError, field('sealedText'));
    spec
      .given([])
      .when(request({ purpose: 'notification' }))
      .thenThrows(DomainError, field('purpose'));
  });

  it('the same request again is a no-op; another sealed body under the id is CONFLICT', () => {
    spec.given([requested]).when(request()).then([]);
    spec
      .given([requested])
      .when(request({ sealedText: OTHER_BOX }))
      .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT');
  });

  it("a notification is the platform's message in clear: purpose notification, no box", () => {
    const events = smsMessageDecider.decide(
      request({ sealedText: undefined, purpose: 'notification', text: 'Your plan ends soon' }),
      fold(smsMessageDecider, []),
    );
    expect(events[0]!.data).to.deep.include({ purpose: 'notification', text: 'Your plan ends soon' });
    expect(events[0]!.data).not.to.have.property('sealedText');
    spec
      .given([])
      .when(request({ sealedText: undefined, purpose: 'login_code', text: 'x' }))
      .thenThrows(DomainError, field('purpose'));
  });

  it('decodes the stored event as written', () => {
    expect(smsMessageEvents.decode({ type: 'SmsRequested', data: JSON.parse(JSON.stringify(requested.data)) })).to.deep.equal(requested);
  });
});
