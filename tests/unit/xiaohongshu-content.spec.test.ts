import { expect } from 'chai';
import { xiaohongshuContentId } from '../../src/application/xiaohongshu-contents.js';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  xiaohongshuContentDecider,
  xiaohongshuContentStream,
  type DeleteCollectedContent,
  type XiaohongshuContentEvent,
} from '../../src/write-model/xiaohongshu-content/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(xiaohongshuContentDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const CONTENT = 'content-1';
const OWNER = 'user-1';
const STRANGER = 'user-2';
const NOTE = '65f1a2b3c4d5e6f7a8b9c0d1';
const T0 = '2026-03-01T10:00:00.000Z';
const T1 = '2026-03-02T10:00:00.000Z';

const deleteCmd: DeleteCollectedContent = { type: 'DeleteCollectedContent', contentId: CONTENT, ownerId: OWNER, noteId: NOTE, collected: true, now: T0 };
const deleted: XiaohongshuContentEvent = { type: 'CollectedContentDeleted', data: { contentId: CONTENT, ownerId: OWNER, noteId: NOTE, deletedAt: T0 } };

describe('XiaohongshuContent', () => {
  it('lives in the stream xiaohongshu_content-{id}, one per owner and note', () => {
    expect(xiaohongshuContentStream('abc')).to.equal('xiaohongshu_content-abc');
    const id = xiaohongshuContentId(OWNER, NOTE);
    expect(id).to.equal(xiaohongshuContentId(OWNER, NOTE));
    expect(id).to.not.equal(xiaohongshuContentId(STRANGER, NOTE));
    expect(id).to.not.equal(xiaohongshuContentId(OWNER, '65f1a2b3c4d5e6f7a8b9c0d2'));
  });

  it('starts with nothing decided', () => {
    expect(xiaohongshuContentDecider.initialState()).to.deep.equal({ status: 'none' });
  });

  describe('DeleteCollectedContent', () => {
    it('deletes a note the owner has collected', () => {
      spec.given([]).when(deleteCmd).then([deleted]);
    });

    it('leaves the content deleted', () => {
      spec.given([]).when(deleteCmd).thenState({ status: 'deleted', contentId: CONTENT, ownerId: OWNER, noteId: NOTE, deletedAt: T0 });
    });

    it('refuses a note the owner has not collected (NOT_FOUND, as a read would be)', () => {
      spec
        .given([])
        .when({ ...deleteCmd, collected: false })
        .thenThrows(DomainError, (e: DomainError) => e.code === 'NOT_FOUND' && e.details.noteId === NOTE);
    });

    it('deleting again is a no-op, whether the read model still shows the note or not', () => {
      spec
        .given([deleted])
        .when({ ...deleteCmd, collected: false, now: T1 })
        .then([]);
      spec
        .given([deleted])
        .when({ ...deleteCmd, now: T1 })
        .then([]);
      expect(fold(xiaohongshuContentDecider, [deleted])).to.include({ status: 'deleted', deletedAt: T0 });
    });

    it('refuses a stream of another owner or note', () => {
      spec
        .given([deleted])
        .when({ ...deleteCmd, ownerId: STRANGER })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([deleted])
        .when({ ...deleteCmd, noteId: '65f1a2b3c4d5e6f7a8b9c0d2' })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('validates its fields', () => {
      spec
        .given([])
        .when({ ...deleteCmd, contentId: ' ' })
        .thenThrows(DomainError, field('contentId'));
      spec
        .given([])
        .when({ ...deleteCmd, ownerId: '' })
        .thenThrows(DomainError, field('ownerId'));
      spec
        .given([])
        .when({ ...deleteCmd, noteId: 'not-a-note' })
        .thenThrows(DomainError, field('noteId'));
      spec
        .given([])
        .when({ ...deleteCmd, noteId: '65F1A2B3C4D5E6F7A8B9C0D1' })
        .thenThrows(DomainError, field('noteId'));
      spec
        .given([])
        .when({ ...deleteCmd, collected: 'yes' as unknown as boolean })
        .thenThrows(DomainError, field('collected'));
      spec
        .given([])
        .when({ ...deleteCmd, now: 'yesterday' })
        .thenThrows(DomainError, field('now'));
    });
  });
});
