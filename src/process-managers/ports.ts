/**
 * What the process managers need of the world outside the event store, as
 * interfaces they own: the queues they put jobs on, the proxy leases they
 * read and the job schedulers they keep in step. The adapters implement
 * them (src/adapters/queue, src/adapters/proxies); the job payloads below
 * are the contract between a process manager and the worker that runs the
 * job.
 */
import type { WorkflowSchedule } from '../write-model/workflow/events.js';

/** What a scraper needs to run one attempt of an execution. */
export interface ScrapeJobData {
  executionId: string;
  workflowId: string;
  ownerId: string;
  platform: string;
  /** `<platform>.<name>`, e.g. `xiaohongshu.notes` */
  type: string;
  config: Record<string, unknown>;
  platformAccountId: string | null;
  /** the proxy leased for this attempt, when the dispatcher knows it */
  proxyId?: string | null;
  /** where the attempt resumes (ItemsCollected.cursor); absent or null: from the start */
  cursor?: string | null;
  /** the execution attempt, 1-based (ExecutionStarted / ExecutionRetried.attempt) */
  attempt: number;
  /** why this attempt was enqueued again (absent for attempt 1) */
  reason?: string;
  /** proxies an earlier try of this job could not reach (the worker adds them): the next try leases another if it can */
  avoidProxyIds?: string[];
}

/** One outgoing private message (`outgoing_message-{messageId}`); the stream holds the rest. */
export interface MessageSendJobData {
  messageId: string;
  ownerId: string;
  platform: string;
  /** what the per-account pacing counts against */
  platformAccountId: string;
  /** proxies an earlier try could not reach (the worker adds them) */
  avoidProxyIds?: string[];
}

export interface EnqueueResult {
  jobId: string;
  /** false when a job with this id already existed (nothing was added) */
  created: boolean;
}

export interface ReenqueueOptions {
  /** the execution attempt this job runs (ExecutionRetried.attempt); default: the latest job's + 1 */
  attempt?: number;
  /** the proxy leased for the new attempt */
  proxyId?: string | null;
  /** start no sooner than this (e.g. "no healthy proxy: retry later") */
  delayMs?: number;
}

/** Made by a workflow's job scheduler; the template data is fixed at upsert time. */
export interface WorkflowTickJobData {
  workflowId: string;
  ownerId: string;
  schedule: WorkflowSchedule;
}

/** The scrape queue. */
export interface ScrapeJobs {
  enqueue(data: ScrapeJobData, options?: { delayMs?: number }): Promise<EnqueueResult>;
  enqueueMany(jobs: readonly { data: ScrapeJobData; delayMs?: number }[]): Promise<void>;
  reenqueue(executionId: string, cursor: string | null, reason: string, options?: ReenqueueOptions): Promise<EnqueueResult>;
  /** the execution's newest job, if the queue still has one */
  latestJob(executionId: string): Promise<unknown | undefined>;
}

export interface ProxyLease {
  proxyId: string;
  jobId: string;
  platform: string;
  platformAccountId: string;
  leasedAt: string;
  /** as this process reckons it (leasedAt or the last renewal + TTL) */
  expiresAt: string;
}

/** The workers' proxy leases, as far as a process manager reads them. */
export interface ProxyLeases {
  activeLeases(): Promise<ProxyLease[]>;
  /** proxy id → when it was last leased (ISO-8601), for those that ever were */
  lastLeasedAt(proxyIds: readonly string[]): Promise<Map<string, string>>;
}

/** One job scheduler per scheduled workflow. */
export interface WorkflowJobSchedulers {
  sync(workflowId: string, ownerId: string, schedule: WorkflowSchedule | null, status: 'active' | 'paused' | 'deleted'): Promise<'upserted' | 'removed'>;
}

/** The message-send queue. */
export interface MessageSendOutbox {
  enqueueMessageSend(job: MessageSendJobData): Promise<void>;
}
