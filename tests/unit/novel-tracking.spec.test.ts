import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  novelTrackingDecider,
  novelTrackingStream,
  type KnownTracking,
  type NovelTrackingEvent,
  type NovelTrackingSettings,
  type TrackNovel,
  type UntrackNovel,
  type UpdateNovelTracking,
} from '../../src/write-model/novel-tracking/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(novelTrackingDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const TRACKING = 'trk-1';
const OWNER = 'user-1';
const STRANGER = 'user-2';
const NOVEL = '1035420986';
const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-02T10:00:00.000Z';
const T2 = '2025-03-03T10:00:00.000Z';
const T3 = '2025-03-04T10:00:00.000Z';

const SETTINGS: NovelTrackingSettings = { notifyOnUpdate: true, notifyOnCompletion: false, wordCountThreshold: null };
const LOUDER: NovelTrackingSettings = { notifyOnUpdate: true, notifyOnCompletion: true, wordCountThreshold: 10000 };
const ref = { trackingId: TRACKING, userId: OWNER, novelId: NOVEL };

const trackCmd: TrackNovel = { type: 'TrackNovel', ...ref, title: '诡秘之主', settings: SETTINGS, now: T0 };
const tracked: NovelTrackingEvent = { type: 'NovelTracked', data: { ...ref, title: '诡秘之主', settings: SETTINGS, retracked: false, trackedAt: T0 } };
const updateCmd: UpdateNovelTracking = { type: 'UpdateNovelTracking', trackingId: TRACKING, requestedBy: OWNER, settings: LOUDER, now: T1 };
const updated: NovelTrackingEvent = { type: 'NovelTrackingUpdated', data: { ...ref, title: '诡秘之主', settings: LOUDER, updatedAt: T1 } };
const untrackCmd: UntrackNovel = { type: 'UntrackNovel', trackingId: TRACKING, requestedBy: OWNER, now: T2 };
const untracked: NovelTrackingEvent = { type: 'NovelUntracked', data: { ...ref, untrackedAt: T2 } };

describe('NovelTracking', () => {
  it('lives in the stream novel_tracking-{id}', () => {
    expect(novelTrackingStream('abc')).to.equal('novel_tracking-abc');
  });

  it('starts with no tracking', () => {
    expect(novelTrackingDecider.initialState()).to.deep.equal({ status: 'none' });
  });

  describe('TrackNovel', () => {
    it('tracks a novel with its label and settings', () => {
      spec.given([]).when(trackCmd).then([tracked]);
    });

    it('tracks without a label (title null) and trims one given', () => {
      spec
        .given([])
        .when({ ...trackCmd, title: undefined })
        .then([{ type: 'NovelTracked', data: { ...tracked.data, title: null } }]);
      spec
        .given([])
        .when({ ...trackCmd, title: '  诡秘之主 ' })
        .then([tracked]);
    });

    it('keeps only the known settings fields', () => {
      const noisy = { ...SETTINGS, extra: 'x' } as unknown as NovelTrackingSettings;
      spec
        .given([])
        .when({ ...trackCmd, settings: noisy })
        .then([tracked]);
    });

    it('refuses a second track while tracking (already tracked)', () => {
      spec
        .given([tracked])
        .when(trackCmd)
        .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT' && e.details.trackingId === TRACKING);
    });

    it('tracks again after an untrack, with the new settings', () => {
      spec
        .given([tracked, untracked])
        .when({ ...trackCmd, title: null, settings: LOUDER, now: T3 })
        .then([{ type: 'NovelTracked', data: { ...ref, title: null, settings: LOUDER, retracked: true, trackedAt: T3 } }]);
    });

    it('refuses a stream of another user or novel', () => {
      spec
        .given([tracked, untracked])
        .when({ ...trackCmd, userId: STRANGER })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([tracked, untracked])
        .when({ ...trackCmd, novelId: '42' })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('validates its fields', () => {
      spec
        .given([])
        .when({ ...trackCmd, novelId: 'abc' })
        .thenThrows(DomainError, field('novelId'));
      spec
        .given([])
        .when({ ...trackCmd, userId: '' })
        .thenThrows(DomainError, field('userId'));
      spec
        .given([])
        .when({ ...trackCmd, title: '书'.repeat(501) })
        .thenThrows(DomainError, field('title'));
      spec
        .given([])
        .when({ ...trackCmd, title: '  ' })
        .thenThrows(DomainError, field('title'));
      spec
        .given([])
        .when({ ...trackCmd, settings: undefined as never })
        .thenThrows(DomainError, field('settings'));
      spec
        .given([])
        .when({ ...trackCmd, settings: { ...SETTINGS, notifyOnUpdate: 'yes' as never } })
        .thenThrows(DomainError, field('settings.notifyOnUpdate'));
      spec
        .given([])
        .when({ ...trackCmd, settings: { ...SETTINGS, wordCountThreshold: 0 } })
        .thenThrows(DomainError, field('settings.wordCountThreshold'));
      spec
        .given([])
        .when({ ...trackCmd, settings: { ...SETTINGS, wordCountThreshold: 1.5 } })
        .thenThrows(DomainError, field('settings.wordCountThreshold'));
      spec
        .given([])
        .when({ ...trackCmd, now: 'yesterday' })
        .thenThrows(DomainError, field('now'));
    });
  });

  describe('UpdateNovelTracking', () => {
    it('changes the settings, keeping the label', () => {
      spec.given([tracked]).when(updateCmd).then([updated]);
    });

    it('changes or clears the label, keeping the settings', () => {
      spec
        .given([tracked])
        .when({ type: 'UpdateNovelTracking', trackingId: TRACKING, requestedBy: OWNER, title: null, now: T1 })
        .then([{ type: 'NovelTrackingUpdated', data: { ...ref, title: null, settings: SETTINGS, updatedAt: T1 } }]);
      spec
        .given([tracked])
        .when({ type: 'UpdateNovelTracking', trackingId: TRACKING, requestedBy: OWNER, title: '宿命之环', now: T1 })
        .then([{ type: 'NovelTrackingUpdated', data: { ...ref, title: '宿命之环', settings: SETTINGS, updatedAt: T1 } }]);
    });

    it('is a no-op when nothing changes', () => {
      spec.given([tracked, updated]).when(updateCmd).then([]);
      spec
        .given([tracked])
        .when({ ...updateCmd, title: '诡秘之主', settings: SETTINGS })
        .then([]);
    });

    it('refuses an unknown tracking, a stranger and an untracked one', () => {
      spec.given([]).when(updateCmd).thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([tracked])
        .when({ ...updateCmd, requestedBy: STRANGER })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec.given([tracked, untracked]).when(updateCmd).thenThrows(DomainError, code('NOT_FOUND'));
    });

    it('validates the settings', () => {
      spec
        .given([tracked])
        .when({ ...updateCmd, settings: { ...LOUDER, wordCountThreshold: -5 } })
        .thenThrows(DomainError, field('settings.wordCountThreshold'));
    });
  });

  describe('UntrackNovel', () => {
    it('untracks', () => {
      spec.given([tracked, updated]).when(untrackCmd).then([untracked]);
    });

    it('is a no-op the second time', () => {
      spec.given([tracked, untracked]).when(untrackCmd).then([]);
    });

    it('refuses an unknown tracking and a stranger', () => {
      spec.given([]).when(untrackCmd).thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([tracked])
        .when({ ...untrackCmd, requestedBy: STRANGER })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
    });
  });

  describe('evolve', () => {
    it('folds the history into the state', () => {
      const expected: KnownTracking = {
        status: 'untracked',
        ...ref,
        title: '诡秘之主',
        settings: LOUDER,
        trackedAt: T0,
        updatedAt: T2,
        untrackedAt: T2,
      };
      expect(fold(novelTrackingDecider, [tracked, updated, untracked])).to.deep.equal(expected);
      const again = fold(novelTrackingDecider, [
        tracked,
        updated,
        untracked,
        { type: 'NovelTracked', data: { ...tracked.data, retracked: true, trackedAt: T3 } },
      ]);
      expect(again).to.include({ status: 'tracking', untrackedAt: null, trackedAt: T3 });
    });

    it('ignores a non-first event on an empty state', () => {
      expect(fold(novelTrackingDecider, [untracked])).to.deep.equal({ status: 'none' });
    });
  });
});
