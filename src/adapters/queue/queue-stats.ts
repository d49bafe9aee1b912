import { Queue, QueueEvents } from 'bullmq';
import type { QueueCounts, QueueStatsReader } from '../../application/ports/queue-monitoring.js';
import type { QueueFactory } from './queues.js';

/**
 * The queues' counts for the monitor and the blockage detector, read from
 * BullMQ.
 *
 * Jobs in and out are counted from each queue's QueueEvents (`added`,
 * `completed`, `failed`, read from the queue's event stream as they
 * happen), not from deltas of the job counts: finished jobs may be removed
 * at once (removeOnComplete), which keeps the completed count flat however
 * many jobs finish, and a job added and finished between two samples leaves
 * no trace in any count. The price is one blocking Redis connection per
 * queue while the reader is open.
 *
 * A sample is one getJobCounts per queue, its paused flag and its oldest
 * waiting job (the tail of the wait list: BullMQ adds at the head and
 * workers take from the tail).
 */
interface Session {
  ready: Promise<void>;
  queues: Map<string, Queue>;
  events: Map<string, QueueEvents>;
  totals: Map<string, { added: number; completed: number; failed: number }>;
}

export class BullMqQueueStats implements QueueStatsReader {
  private session: Session | undefined;

  constructor(
    private readonly factory: QueueFactory,
    readonly names: readonly string[],
    /** the producer handles to read counts with (e.g. the api's AdminQueues); default: its own, closed with it */
    private readonly shared?: (name: string) => Queue,
  ) {}

  /** Opens the event readers (once per session: close() ends it, the next sample starts another). */
  private async open(): Promise<Session> {
    if (!this.session) {
      const session: Session = { ready: Promise.resolve(), queues: new Map(), events: new Map(), totals: new Map() };
      for (const name of this.names) {
        const totals = { added: 0, completed: 0, failed: 0 };
        session.totals.set(name, totals);
        if (!this.shared) session.queues.set(name, new Queue(name, { connection: this.factory.connection('queue'), prefix: this.factory.prefix }));
        const events = new QueueEvents(name, { connection: this.factory.connection('worker'), prefix: this.factory.prefix });
        events.on('added', () => totals.added++);
        events.on('completed', () => totals.completed++);
        events.on('failed', () => totals.failed++);
        // a dropped connection is retried by BullMQ; its error must not crash the process
        events.on('error', () => undefined);
        session.events.set(name, events);
      }
      session.ready = Promise.all([...session.events.values()].map((e) => e.waitUntilReady())).then(() => undefined);
      this.session = session;
    }
    const session = this.session;
    try {
      await session.ready;
    } catch (error) {
      // Redis unreachable: the next sample tries afresh
      if (this.session === session) await this.close();
      throw error;
    }
    return session;
  }

  async sample(): Promise<{ at: number; queues: QueueCounts[] }> {
    const session = await this.open();
    const at = Date.now();
    const queues = await Promise.all(
      this.names.map(async (name): Promise<QueueCounts> => {
        const queue = this.shared ? this.shared(name) : session.queues.get(name);
        if (!queue) throw new Error(`no queue ${name}`);
        const [counts, paused, oldest] = await Promise.all([
          queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'),
          queue.isPaused(),
          queue.getJobs(['wait', 'prioritized'], 0, 0, true),
        ]);
        const readySince = oldest.map((job) => job.timestamp + (job.delay ?? 0)).filter((t) => Number.isFinite(t) && t > 0);
        return {
          name,
          waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
          active: counts.active ?? 0,
          delayed: counts.delayed ?? 0,
          failed: counts.failed ?? 0,
          paused,
          oldestWaitingSince: readySince.length > 0 ? Math.min(...readySince) : null,
          totals: { ...session.totals.get(name)! },
        };
      }),
    );
    return { at, queues };
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    await session.ready.catch(() => undefined);
    await Promise.all([...session.events.values()].map((e) => e.close().catch(() => undefined)));
    await Promise.all([...session.queues.values()].map((q) => q.close().catch(() => undefined)));
  }
}
