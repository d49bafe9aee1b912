import { expect } from 'chai';
import { initialBlockageState, observeQueue, type BlockageChange, type BlockageSample, type QueueBlockageState } from '../../src/application/queue-blockage.js';
import { statsOf } from '../../src/application/queue-monitor.js';
import type { QueueCounts } from '../../src/application/ports/queue-monitoring.js';

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
const THRESHOLD = 300_000;

/** Runs samples (one a second from T0, `[waiting, finished, paused?]`) through the detector: every change, and the last state. */
function run(samples: Array<[number, number, boolean?]>, start: QueueBlockageState = initialBlockageState()) {
  let state = start;
  const changes: Array<BlockageChange & { second: number }> = [];
  samples.forEach(([waiting, finished, paused = false], second) => {
    const sample: BlockageSample = { at: T0 + second * 1000, waiting, finished, paused };
    const result = observeQueue(state, sample, THRESHOLD);
    state = result.state;
    if (result.change) changes.push({ ...result.change, second });
  });
  return { state, changes };
}

const repeat = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

describe('queue blockage detector (pure)', () => {
  it('is blocked once the waiting jobs have neither shrunk nor finished for the threshold', () => {
    const { changes, state } = run(repeat(302, [5, 0] as [number, number]));
    expect(changes).to.have.length(1);
    expect(changes[0]).to.deep.equal({ type: 'detected', blockedSince: T0, at: T0 + 300_000, waiting: 5, paused: false, second: 300 });
    expect(state.blocked).to.deep.equal({ blockedSince: T0, detectedAt: T0 + 300_000 });
  });

  it('says nothing a second before the threshold', () => {
    expect(run(repeat(300, [5, 0] as [number, number])).changes).to.deep.equal([]);
  });

  it('takes growth for stillness: jobs pile up and none leaves', () => {
    const { changes } = run(Array.from({ length: 301 }, (_, i) => [1 + i, 0] as [number, number]));
    expect(changes.map((c) => c.type)).to.deep.equal(['detected']);
    expect(changes[0]).to.include({ waiting: 301, blockedSince: T0 });
  });

  it('restarts the clock on every move: a shrink or a finished job', () => {
    const samples: Array<[number, number]> = [
      ...repeat(200, [5, 0] as [number, number]),
      [4, 0],
      ...repeat(200, [4, 0] as [number, number]),
      [6, 1],
      ...repeat(200, [6, 0] as [number, number]),
    ];
    expect(run(samples).changes).to.deep.equal([]);
  });

  it('never alerts while nothing waits, and the clock starts at the first waiting job', () => {
    const { changes } = run([...repeat(500, [0, 0] as [number, number]), ...repeat(301, [2, 0] as [number, number])]);
    expect(changes).to.have.length(1);
    expect(changes[0]).to.include({ type: 'detected', blockedSince: T0 + 500_000, second: 800 });
  });

  it('reports once per episode, and clears when the queue moves again', () => {
    const { changes, state } = run([...repeat(400, [3, 0] as [number, number]), [3, 1], [2, 0]]);
    expect(changes.map((c) => [c.type, c.second])).to.deep.equal([
      ['detected', 300],
      ['cleared', 400],
    ]);
    expect(changes[1]).to.include({ blockedSince: T0, waiting: 3 });
    expect(state.blocked).to.equal(null);
  });

  it('clears when the waiting jobs are gone (removed by hand) and again detects a new episode after the threshold', () => {
    const { changes } = run([...repeat(301, [3, 0] as [number, number]), [0, 0], ...repeat(301, [1, 0] as [number, number])]);
    expect(changes.map((c) => [c.type, c.second])).to.deep.equal([
      ['detected', 300],
      ['cleared', 301],
      ['detected', 602],
    ]);
    expect(changes[2]!.blockedSince).to.equal(T0 + 302_000);
  });

  it('counts a paused queue as blocked, and says it was paused', () => {
    const { changes } = run(repeat(301, [4, 0, true] as [number, number, boolean]));
    expect(changes[0]).to.include({ type: 'detected', paused: true });
  });

  it('goes on from an episode taken over from the store: still → nothing, moving → cleared', () => {
    const taken: QueueBlockageState = { ...initialBlockageState(), blocked: { blockedSince: T0 - 900_000, detectedAt: T0 - 600_000 } };
    expect(run(repeat(100, [3, 0] as [number, number]), taken).changes).to.deep.equal([]);
    const { changes } = run(
      [
        [3, 0],
        [3, 2],
      ],
      taken,
    );
    expect(changes).to.deep.equal([{ type: 'cleared', blockedSince: T0 - 900_000, at: T0 + 1000, waiting: 3, second: 1 }]);
  });
});

describe('queue monitor stats (pure)', () => {
  const counts = (name: string, totals: QueueCounts['totals'], extra: Partial<QueueCounts> = {}): QueueCounts => ({
    name,
    waiting: 2,
    active: 1,
    delayed: 0,
    failed: 0,
    paused: false,
    oldestWaitingSince: null,
    totals,
    ...extra,
  });

  it('rates are the totals’ deltas over the time between samples; null on the first', () => {
    const first = { at: T0, queues: [counts('mail', { added: 10, completed: 5, failed: 1 })] };
    const second = { at: T0 + 2000, queues: [counts('mail', { added: 16, completed: 9, failed: 1 }, { oldestWaitingSince: T0 - 42_500 })] };
    expect(statsOf(first, null, null)[0]).to.include({ addedPerSecond: null, completedPerSecond: null, failedPerSecond: null });
    const [mail] = statsOf(second, first, null);
    expect(mail).to.include({ addedPerSecond: 3, completedPerSecond: 2, failedPerSecond: 0, oldestWaitingSeconds: 44 });
  });

  it('puts the board’s open episode on its queue', () => {
    const sample = { at: T0, queues: [counts('mail', { added: 0, completed: 0, failed: 0 }), counts('scrape', { added: 0, completed: 0, failed: 0 })] };
    const blocked = {
      queue: 'scrape',
      blockedSince: new Date(T0 - 400_000).toISOString(),
      detectedAt: new Date(T0 - 100_000).toISOString(),
      waiting: 2,
      paused: false,
    };
    const stats = statsOf(sample, null, { updatedAt: new Date(T0).toISOString(), thresholdSeconds: 300, blocked: [blocked] });
    expect(stats.map((q) => q.blocked)).to.deep.equal([null, blocked]);
  });
});
