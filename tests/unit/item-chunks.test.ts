import { expect } from 'chai';
import { chunkBatchId, chunkItemsByBytes, collectItemsInChunks, ITEM_BYTES_PER_EVENT } from '../../src/write-model/workflow-execution/item-chunks.js';

const item = (i: number, bytes: number) => ({ platformContentId: `c${i}`, kind: 'note', data: { text: 'x'.repeat(bytes) } });

describe('ItemsCollected in chunks that fit one append', () => {
  it('keeps a batch that fits whole, and splits a large one into chunks within the byte budget, in order', () => {
    const small = [item(1, 100), item(2, 100)];
    expect(chunkItemsByBytes(small)).to.deep.equal([small]);

    const items = Array.from({ length: 50 }, (_, i) => item(i, 40_000)); // ~2 MB
    const chunks = chunkItemsByBytes(items);
    expect(chunks.length).to.be.greaterThan(1);
    expect(chunks.flat()).to.deep.equal(items);
    for (const chunk of chunks) expect(Buffer.byteLength(JSON.stringify(chunk))).to.be.at.most(ITEM_BYTES_PER_EVENT);
    // chunks are full: the next item would not have fitted
    for (let i = 0; i < chunks.length - 1; i++) {
      expect(Buffer.byteLength(JSON.stringify([...chunks[i]!, chunks[i + 1]![0]]))).to.be.greaterThan(ITEM_BYTES_PER_EVENT);
    }
  });

  it('counts bytes, not characters, and puts an item larger than the budget in a chunk of its own', () => {
    const wide = Array.from({ length: 4 }, (_, i) => ({ id: i, text: '咖'.repeat(100) })); // 300 bytes of text each
    expect(chunkItemsByBytes(wide, 700).map((c) => c.length)).to.deep.equal([2, 2]);
    const huge = [item(1, 10), item(2, 2_000), item(3, 10)];
    expect(chunkItemsByBytes(huge, 500).map((c) => c.map((i) => i.platformContentId))).to.deep.equal([['c1'], ['c2'], ['c3']]);
    expect(chunkItemsByBytes([])).to.deep.equal([]);
  });

  it("gives each chunk a batch id of its own (the first keeps the batch's) and moves the cursor only with the last", () => {
    const items = Array.from({ length: 6 }, (_, i) => item(i, 300));
    const commands = collectItemsInChunks({ executionId: 'e1', batchId: 'b-1', items, startCursor: 'p1', endCursor: 'p2', now: 'now' }, 800);
    expect(commands.map((c) => [c.batchId, c.cursor, c.items.length])).to.deep.equal([
      ['b-1', 'p1', 2],
      [chunkBatchId('b-1', 1), 'p1', 2],
      [chunkBatchId('b-1', 2), 'p2', 2],
    ]);
    // the same batch again is cut the same way: every chunk is recognised by its id
    expect(
      collectItemsInChunks({ executionId: 'e1', batchId: 'b-1', items, startCursor: 'p1', endCursor: 'p2', now: 'later' }, 800).map((c) => c.batchId),
    ).to.deep.equal(commands.map((c) => c.batchId));
    expect(
      collectItemsInChunks({ executionId: 'e1', batchId: 'b-1', items: [], startCursor: null, endCursor: 'p2', now: 'now' }).map((c) => [c.batchId, c.cursor]),
    ).to.deep.equal([['b-1', 'p2']]);
  });
});
