import { Queue } from 'bullmq';
import type { QueueControl, QueueJobView } from '../../application/ports/queue-monitoring.js';
import type { QueueFactory } from './queues.js';

/**
 * The operators' manual interventions on BullMQ queues (pause, resume,
 * retry the failed jobs, retry / promote / remove one job). The checks that
 * an intervention applies are the caller's (src/application/queue-interventions.ts);
 * this only reads and acts.
 */
export class BullMqQueueControl implements QueueControl {
  private readonly opened = new Map<string, Queue>();

  constructor(
    private readonly factory: QueueFactory,
    readonly names: readonly string[],
    /** producer handles to act through (e.g. the api's AdminQueues); default: its own, closed with it */
    private readonly shared?: (name: string) => Queue,
  ) {}

  private queue(name: string): Queue {
    if (!this.names.includes(name)) throw new Error(`no queue ${name}`);
    if (this.shared) return this.shared(name);
    let queue = this.opened.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.factory.connection('queue'), prefix: this.factory.prefix });
      this.opened.set(name, queue);
    }
    return queue;
  }

  isPaused(queue: string): Promise<boolean> {
    return this.queue(queue).isPaused();
  }

  pause(queue: string): Promise<void> {
    return this.queue(queue).pause();
  }

  resume(queue: string): Promise<void> {
    return this.queue(queue).resume();
  }

  failedCount(queue: string): Promise<number> {
    return this.queue(queue).getFailedCount();
  }

  async retryFailed(queue: string): Promise<number> {
    const q = this.queue(queue);
    const count = await q.getFailedCount();
    if (count > 0) await q.retryJobs({ state: 'failed', count: 1000 });
    return count;
  }

  async job(queue: string, jobId: string): Promise<QueueJobView | null> {
    const job = await this.queue(queue).getJob(jobId);
    if (!job) return null;
    return { id: String(job.id), name: job.name, state: await job.getState() };
  }

  private async existing(queue: string, jobId: string) {
    const job = await this.queue(queue).getJob(jobId);
    if (!job) throw new Error(`no job ${jobId} in ${queue}`);
    return job;
  }

  async retryJob(queue: string, jobId: string): Promise<void> {
    await (await this.existing(queue, jobId)).retry('failed');
  }

  async promoteJob(queue: string, jobId: string): Promise<void> {
    await (await this.existing(queue, jobId)).promote();
  }

  async removeJob(queue: string, jobId: string): Promise<void> {
    await (await this.existing(queue, jobId)).remove();
  }

  async close(): Promise<void> {
    await Promise.all([...this.opened.values()].map((q) => q.close().catch(() => undefined)));
    this.opened.clear();
  }
}
