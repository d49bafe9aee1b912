import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { fold } from '../../src/write-model/core/decider.js';
import { mediaDecider, mediaStream, type DeleteMedia, type MediaEvent, type RecordMediaUpload } from '../../src/write-model/media/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(mediaDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const MEDIA = '2b1d6c4e-0f5a-4d8e-9c3b-7a6e5d4c3b2a';
const OWNER = 'user-1';
const T0 = '2026-12-09T10:00:00.000Z';
const T1 = '2026-12-09T11:00:00.000Z';
const SHA = 'c0ffee'.padEnd(64, '0');
const KEY = `media/${OWNER}/${MEDIA}`;

const uploadCmd: RecordMediaUpload = {
  type: 'RecordMediaUpload',
  mediaId: MEDIA,
  ownerId: OWNER,
  contentType: 'image/png',
  sizeBytes: 1234,
  sha256: SHA,
  storageKey: KEY,
  width: 640,
  height: 480,
  now: T0,
};
const uploaded: MediaEvent = {
  type: 'MediaUploaded',
  data: { mediaId: MEDIA, ownerId: OWNER, contentType: 'image/png', sizeBytes: 1234, sha256: SHA, storageKey: KEY, width: 640, height: 480, uploadedAt: T0 },
};
const deleteCmd: DeleteMedia = { type: 'DeleteMedia', mediaId: MEDIA, requestedBy: OWNER, now: T1 };
const deleted: MediaEvent = { type: 'MediaDeleted', data: { mediaId: MEDIA, ownerId: OWNER, storageKey: KEY, deletedAt: T1 } };

describe('Media decider', () => {
  it('names its stream media-{id}', () => expect(mediaStream(MEDIA)).to.equal(`media-${MEDIA}`));

  describe('RecordMediaUpload', () => {
    it('records the upload', () => spec.given([]).when(uploadCmd).then([uploaded]));
    it('records unknown dimensions as null', () => {
      const [event] = mediaDecider.decide({ ...uploadCmd, width: null, height: null }, mediaDecider.initialState());
      expect(event?.data).to.include({ width: null, height: null });
    });
    it('is a no-op when repeated, a CONFLICT for another upload under the same id', () => {
      spec.given([uploaded]).when(uploadCmd).then([]);
      spec
        .given([uploaded])
        .when({ ...uploadCmd, sha256: 'f'.repeat(64) })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([uploaded])
        .when({ ...uploadCmd, ownerId: 'user-2' })
        .thenThrows(DomainError, code('CONFLICT'));
    });
    it('refuses what is not an image upload', () => {
      const cases: [Partial<RecordMediaUpload>, string][] = [
        [{ contentType: 'image/svg+xml' as 'image/png' }, 'contentType'],
        [{ sizeBytes: 0 }, 'sizeBytes'],
        [{ sizeBytes: 1.5 }, 'sizeBytes'],
        [{ sha256: 'abc' }, 'sha256'],
        [{ storageKey: '' }, 'storageKey'],
        [{ width: -1 }, 'width'],
        [{ height: 2.5 }, 'height'],
        [{ mediaId: '' }, 'mediaId'],
        [{ now: 'now' }, 'now'],
      ];
      for (const [patch, f] of cases)
        spec
          .given([])
          .when({ ...uploadCmd, ...patch })
          .thenThrows(DomainError, field(f));
    });
  });

  describe('DeleteMedia', () => {
    it('records the deletion with the storage key', () => spec.given([uploaded]).when(deleteCmd).then([deleted]));
    it('is a no-op when repeated', () => spec.given([uploaded, deleted]).when(deleteCmd).then([]));
    it('is NOT_FOUND for another user or an unknown id', () => {
      spec
        .given([uploaded])
        .when({ ...deleteCmd, requestedBy: 'user-2' })
        .thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([uploaded, deleted])
        .when({ ...deleteCmd, requestedBy: 'user-2' })
        .thenThrows(DomainError, code('NOT_FOUND'));
      spec.given([]).when(deleteCmd).thenThrows(DomainError, code('NOT_FOUND'));
    });
  });

  it('folds to the recorded upload, then deleted', () => {
    expect(fold(mediaDecider, [uploaded, deleted])).to.deep.equal({ ...uploaded.data, status: 'deleted', deletedAt: T1 });
  });
});
