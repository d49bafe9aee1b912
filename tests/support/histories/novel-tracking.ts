import fc from 'fast-check';
import { novelTrackingAggregate, type NovelTrackingCommand } from '../../../src/write-model/novel-tracking/index.js';
import { historySource, sequence } from './harness.js';

const settings = fc.record({
  notifyOnUpdate: fc.boolean(),
  notifyOnCompletion: fc.boolean(),
  wordCountThreshold: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: null }),
});

export const novelTrackingHistories = historySource(
  novelTrackingAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('track', 'update', 'untrack'),
      who: fc.constantFrom('u1', 'u2'),
      title: fc.option(fc.string({ maxLength: 20 }), { nil: null }),
      settings,
    }),
    (c, now): NovelTrackingCommand =>
      c.kind === 'track'
        ? { type: 'TrackNovel', trackingId: 't1', userId: c.who, novelId: '1010', title: c.title, settings: c.settings, now }
        : c.kind === 'update'
          ? { type: 'UpdateNovelTracking', trackingId: 't1', requestedBy: c.who, title: c.title, settings: c.settings, now }
          : { type: 'UntrackNovel', trackingId: 't1', requestedBy: c.who, now },
  ),
);
