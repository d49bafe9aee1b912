import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  novelAlertDecider,
  novelAlertStream,
  type ChangeNovelAlert,
  type CreateNovelAlert,
  type DeleteNovelAlert,
  type NovelAlertEvent,
} from '../../src/write-model/novel-alert/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(novelAlertDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const ALERT = 'alert-1';
const OWNER = 'user-1';
const STRANGER = 'user-2';
const NOVEL = '1036370336';
const T0 = '2026-12-01T10:00:00.000Z';
const T1 = '2026-12-02T10:00:00.000Z';
const T2 = '2026-12-03T10:00:00.000Z';
const ref = { alertId: ALERT, userId: OWNER, novelId: NOVEL };

const createCmd: CreateNovelAlert = { type: 'CreateNovelAlert', ...ref, kind: 'update', words: null, now: T0 };
const created: NovelAlertEvent = { type: 'NovelAlertCreated', data: { ...ref, kind: 'update', words: null, createdAt: T0 } };
const toThreshold: ChangeNovelAlert = { type: 'ChangeNovelAlert', alertId: ALERT, requestedBy: OWNER, kind: 'word_count_threshold', words: 500_000, now: T1 };
const changed: NovelAlertEvent = { type: 'NovelAlertChanged', data: { ...ref, kind: 'word_count_threshold', words: 500_000, changedAt: T1 } };
const deleteCmd: DeleteNovelAlert = { type: 'DeleteNovelAlert', alertId: ALERT, requestedBy: OWNER, now: T2 };
const deleted: NovelAlertEvent = { type: 'NovelAlertDeleted', data: { ...ref, deletedAt: T2 } };

describe('NovelAlert', () => {
  it('lives in the stream novel_alert-{id} and starts with no rule', () => {
    expect(novelAlertStream('abc')).to.equal('novel_alert-abc');
    expect(novelAlertDecider.initialState()).to.deep.equal({ status: 'none' });
  });

  describe('CreateNovelAlert', () => {
    it('creates an update, a completion or a threshold rule', () => {
      spec.given([]).when(createCmd).then([created]);
      spec
        .given([])
        .when({ ...createCmd, kind: 'completion' })
        .then([{ type: 'NovelAlertCreated', data: { ...ref, kind: 'completion', words: null, createdAt: T0 } }]);
      spec
        .given([])
        .when({ ...createCmd, kind: 'word_count_threshold', words: 1_000_000 })
        .then([{ type: 'NovelAlertCreated', data: { ...ref, kind: 'word_count_threshold', words: 1_000_000, createdAt: T0 } }]);
    });

    it('wants words with a threshold, and only with it', () => {
      spec
        .given([])
        .when({ ...createCmd, kind: 'word_count_threshold', words: null })
        .thenThrows(DomainError, field('words'));
      spec
        .given([])
        .when({ ...createCmd, kind: 'word_count_threshold', words: 0 })
        .thenThrows(DomainError, field('words'));
      spec
        .given([])
        .when({ ...createCmd, kind: 'word_count_threshold', words: 1.5 })
        .thenThrows(DomainError, field('words'));
      spec
        .given([])
        .when({ ...createCmd, kind: 'update', words: 10 })
        .thenThrows(DomainError, field('words'));
    });

    it('validates the novel, the kind and the time', () => {
      spec
        .given([])
        .when({ ...createCmd, novelId: 'abc' })
        .thenThrows(DomainError, field('novelId'));
      spec
        .given([])
        .when({ ...createCmd, kind: 'sometimes' as never })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([])
        .when({ ...createCmd, now: 'yesterday' })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });

    it('refuses a second create on the same stream', () => {
      spec.given([created]).when(createCmd).thenThrows(DomainError, code('CONFLICT'));
      spec.given([created, deleted]).when(createCmd).thenThrows(DomainError, code('CONFLICT'));
    });
  });

  describe('ChangeNovelAlert', () => {
    it('changes the kind and words; the state follows', () => {
      spec.given([created]).when(toThreshold).then([changed]);
      spec
        .given([created])
        .when(toThreshold)
        .thenState({ status: 'active', ...ref, kind: 'word_count_threshold', words: 500_000, createdAt: T0, updatedAt: T1 });
    });

    it('keeps the words when only the words change, and drops them when the kind leaves the threshold', () => {
      spec
        .given([created, changed])
        .when({ type: 'ChangeNovelAlert', alertId: ALERT, requestedBy: OWNER, words: 600_000, now: T2 })
        .then([{ type: 'NovelAlertChanged', data: { ...ref, kind: 'word_count_threshold', words: 600_000, changedAt: T2 } }]);
      spec
        .given([created, changed])
        .when({ type: 'ChangeNovelAlert', alertId: ALERT, requestedBy: OWNER, kind: 'completion', now: T2 })
        .then([{ type: 'NovelAlertChanged', data: { ...ref, kind: 'completion', words: null, changedAt: T2 } }]);
    });

    it('needs the words when the kind becomes a threshold', () => {
      spec
        .given([created])
        .when({ type: 'ChangeNovelAlert', alertId: ALERT, requestedBy: OWNER, kind: 'word_count_threshold', now: T1 })
        .thenThrows(DomainError, field('words'));
    });

    it('is a no-op when nothing changes', () => {
      spec.given([created]).when({ type: 'ChangeNovelAlert', alertId: ALERT, requestedBy: OWNER, kind: 'update', now: T1 }).then([]);
    });

    it("is the owner's only; unknown and deleted rules are not found", () => {
      spec
        .given([created])
        .when({ ...toThreshold, requestedBy: STRANGER })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec.given([]).when(toThreshold).thenThrows(DomainError, code('NOT_FOUND'));
      spec.given([created, deleted]).when(toThreshold).thenThrows(DomainError, code('NOT_FOUND'));
    });
  });

  describe('DeleteNovelAlert', () => {
    it('deletes once; again is a no-op', () => {
      spec.given([created]).when(deleteCmd).then([deleted]);
      spec.given([created, deleted]).when(deleteCmd).then([]);
      spec
        .given([created])
        .when(deleteCmd)
        .thenState({ status: 'deleted', ...ref, kind: 'update', words: null, createdAt: T0, updatedAt: T2 });
    });

    it("is the owner's only", () => {
      spec
        .given([created])
        .when({ ...deleteCmd, requestedBy: STRANGER })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec.given([]).when(deleteCmd).thenThrows(DomainError, code('NOT_FOUND'));
    });
  });
});
