import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { firstWordKeyword, normalizeSmsKeyword, smsKeywordDecider, type SmsKeywordEvent } from '../../src/write-model/sms-keyword/decider.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(smsKeywordDecider);
const T0 = '2026-12-10T10:00:00.000Z';
const reserved: SmsKeywordEvent = { type: 'SmsKeywordReserved', data: { keyword: 'JOIN', ownerId: 'u1', organizationId: 'org-1', reservedAt: T0 } };
const reserve = { type: 'ReserveSmsKeyword', keyword: 'join', ownerId: 'u1', organizationId: 'org-1', now: T0 } as const;

describe('sms_keyword decider', () => {
  it('reserves a free keyword, upper-cased', () => {
    spec.given([]).when(reserve).then([reserved]);
  });

  it("is a no-op for the organization holding it (another member too), CONFLICT keyword_taken for anyone else's", () => {
    spec
      .given([reserved])
      .when({ ...reserve, ownerId: 'u2' })
      .then([]);
    spec
      .given([reserved])
      .when({ ...reserve, ownerId: 'u3', organizationId: 'org-2' })
      .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === 'keyword_taken');
    spec
      .given([reserved])
      .when({ ...reserve, ownerId: 'u3', organizationId: null })
      .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT');
  });

  it('releases for a member of the holding organization; anyone else: NOT_FOUND; then free for anyone', () => {
    const release = { type: 'ReleaseSmsKeyword', keyword: 'JOIN', by: 'u2', organizationId: 'org-1', now: T0 } as const;
    const released: SmsKeywordEvent = {
      type: 'SmsKeywordReleased',
      data: { keyword: 'JOIN', ownerId: 'u1', organizationId: 'org-1', by: 'u2', releasedAt: T0 },
    };
    spec.given([reserved]).when(release).then([released]);
    spec
      .given([reserved])
      .when({ ...release, organizationId: 'org-2' })
      .thenThrows(DomainError, (e: DomainError) => e.code === 'NOT_FOUND');
    spec
      .given([reserved, released])
      .when(release)
      .thenThrows(DomainError, (e: DomainError) => e.code === 'NOT_FOUND');
    spec
      .given([reserved, released])
      .when({ ...reserve, ownerId: 'u9', organizationId: null })
      .then([{ type: 'SmsKeywordReserved', data: { keyword: 'JOIN', ownerId: 'u9', organizationId: null, reservedAt: T0 } }]);
  });

  it('refuses what is not a keyword', () => {
    for (const bad of ['a', 'two words', 'x'.repeat(21), 'stop!'])
      spec
        .given([])
        .when({ ...reserve, keyword: bad })
        .thenThrows(DomainError, (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === 'keyword');
  });

  it('reads the first word of an inbound text as a keyword', () => {
    expect(normalizeSmsKeyword('ｊｏｉｎ')).to.equal('JOIN');
    expect(firstWordKeyword('  join me please')).to.equal('JOIN');
    expect(firstWordKeyword('Stop, thanks')).to.equal('STOP');
    expect(firstWordKeyword('优惠 详情')).to.equal('优惠');
    expect(firstWordKeyword('!')).to.equal(null);
  });
});
