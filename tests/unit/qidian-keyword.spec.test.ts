import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  keywordWatchDecider,
  keywordWatchStream,
  normalizeKeyword,
  type KeywordWatchEvent,
  type UnwatchKeyword,
  type WatchKeyword,
} from '../../src/write-model/qidian-keyword/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(keywordWatchDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const WATCH = 'watch-1';
const OWNER = 'user-1';
const STRANGER = 'user-2';
const T0 = '2026-12-01T10:00:00.000Z';
const T1 = '2026-12-02T10:00:00.000Z';
const T2 = '2026-12-03T10:00:00.000Z';
const ref = { watchId: WATCH, userId: OWNER, keyword: '深海' };

const watchCmd: WatchKeyword = { type: 'WatchKeyword', watchId: WATCH, userId: OWNER, keyword: ' 深海 ', now: T0 };
const watched: KeywordWatchEvent = { type: 'KeywordWatched', data: { ...ref, rewatched: false, watchedAt: T0 } };
const unwatchCmd: UnwatchKeyword = { type: 'UnwatchKeyword', watchId: WATCH, requestedBy: OWNER, now: T1 };
const unwatched: KeywordWatchEvent = { type: 'KeywordUnwatched', data: { ...ref, unwatchedAt: T1 } };

describe('KeywordWatch', () => {
  it('lives in the stream qidian_keyword-{id}', () => {
    expect(keywordWatchStream('abc')).to.equal('qidian_keyword-abc');
    expect(keywordWatchDecider.initialState()).to.deep.equal({ status: 'none' });
  });

  it('normalises keywords: NFKC, invisible characters dropped, trimmed, spaces collapsed, lower case', () => {
    expect(normalizeKeyword('  ＤＡＯ   Ｌｉｆｅ ')).to.equal('dao life');
    expect(normalizeKeyword('深海')).to.equal('深海');
    // a word split or padded with characters that draw nothing is the same word
    expect(normalizeKeyword('\u200b深\u200d海\ufeff')).to.equal('深海');
    expect(normalizeKeyword('dao\u00adlife \u2060')).to.equal('daolife');
    expect(normalizeKeyword('\u3164')).to.equal('');
  });

  describe('WatchKeyword', () => {
    it('watches the keyword as normalised', () => {
      spec.given([]).when(watchCmd).then([watched]);
    });

    it('refuses a keyword watched already, and a stream of another user or keyword', () => {
      spec
        .given([watched])
        .when(watchCmd)
        .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT' && e.details.watchId === WATCH);
      spec
        .given([watched, unwatched])
        .when({ ...watchCmd, userId: STRANGER })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([watched, unwatched])
        .when({ ...watchCmd, keyword: '诡秘' })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('watches again after an unwatch', () => {
      spec
        .given([watched, unwatched])
        .when({ ...watchCmd, now: T2 })
        .then([{ type: 'KeywordWatched', data: { ...ref, rewatched: true, watchedAt: T2 } }]);
    });

    it('refuses empty, long and URL-breaking keywords', () => {
      for (const blank of ['   ', '\u200b', '\u200b\u200c \ufeff'])
        spec
          .given([])
          .when({ ...watchCmd, keyword: blank })
          .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([])
        .when({ ...watchCmd, keyword: 'x'.repeat(31) })
        .thenThrows(DomainError, field('keyword'));
      for (const bad of ['a/b', 'a?b', 'a#b', '100%', 'a\\b', 'a\u0001b'])
        spec
          .given([])
          .when({ ...watchCmd, keyword: bad })
          .thenThrows(DomainError, field('keyword'));
    });
  });

  describe('UnwatchKeyword', () => {
    it('unwatches once; again is a no-op', () => {
      spec.given([watched]).when(unwatchCmd).then([unwatched]);
      spec.given([watched, unwatched]).when(unwatchCmd).then([]);
      spec
        .given([watched])
        .when(unwatchCmd)
        .thenState({ status: 'unwatched', ...ref, watchedAt: T0, updatedAt: T1 });
    });

    it("is the owner's only; an unknown watch is not found", () => {
      spec
        .given([watched])
        .when({ ...unwatchCmd, requestedBy: STRANGER })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec.given([]).when(unwatchCmd).thenThrows(DomainError, code('NOT_FOUND'));
    });
  });
});
