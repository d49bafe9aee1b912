import { expect } from 'chai';
import { isSoftDeleteMarker, metadataToWrite } from '../../src/adapters/event-store/eventstoredb/stream-metadata.js';

/** The `$metadata` bodies below are what the client hands back: JSON.parse of what the server stored. */
const softDeleted = () => JSON.parse('{"$tb":9223372036854775807}') as Record<string, unknown>;

describe('EventStoreDB adapter: metadata writes keep what the port does not own', () => {
  it('recognises the soft delete marker only where JSON.parse rounded 2^63 - 1', () => {
    expect(isSoftDeleteMarker(softDeleted())).to.equal(true);
    expect(isSoftDeleteMarker({ $tb: 12 })).to.equal(false);
    expect(isSoftDeleteMarker(undefined)).to.equal(false);
  });

  it('writes nothing over a soft-deleted stream: the delete stays', () => {
    expect(metadataToWrite('s-1', softDeleted(), { maxAge: 60, custom: { a: 1 } })).to.equal(undefined);
    expect(metadataToWrite('s-1', { ...softDeleted(), $acl: { $r: '$all' } }, {})).to.equal(undefined);
  });

  it("keeps $acl, $cacheControl and other server keys, replaces the port's settings and custom keys", () => {
    const current = { $acl: { $r: 'ops' }, $cacheControl: 10, $maxAge: 5, $maxCount: 9, old: 'x' };
    expect(metadataToWrite('s-1', current, { maxCount: 3, custom: { owner: 'u1' } })).to.deep.equal({
      $acl: { $r: 'ops' },
      $cacheControl: 10,
      $maxCount: 3,
      owner: 'u1',
    });
  });

  it("never moves truncateBefore back: a recreated stream's old events stay hidden", () => {
    // after a soft delete and a new append the server set $tb to the first new revision
    expect(metadataToWrite('s-1', { $tb: 7 }, { maxAge: 60 })).to.deep.equal({ $maxAge: 60, $tb: 7 });
    expect(metadataToWrite('s-1', { $tb: 7 }, { truncateBefore: 3n })).to.deep.equal({ $tb: 7 });
    expect(metadataToWrite('s-1', { $tb: 7 }, { truncateBefore: 9n })).to.deep.equal({ $tb: 9 });
    expect(metadataToWrite('s-1', undefined, { truncateBefore: 2n })).to.deep.equal({ $tb: 2 });
    expect(metadataToWrite('s-1', undefined, {})).to.deep.equal({});
  });

  it("still refuses custom keys named like EventStoreDB's own", () => {
    expect(() => metadataToWrite('s-1', undefined, { custom: { $tb: 1 } })).to.throw(TypeError, /reserved/);
    expect(() => metadataToWrite('s-1', undefined, { custom: { maxAge: 1 } })).to.throw(TypeError, /reserved/);
  });
});
