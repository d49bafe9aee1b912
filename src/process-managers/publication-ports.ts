/**
 * What the publications process manager needs outside the event store, as
 * interfaces it owns: the `publish` queue it puts jobs on and the automatic
 * pre-review it runs. The job payloads are its contract with the worker
 * (src/worker/publish-job.ts); the adapter is src/adapters/queue/publish-queue.ts.
 */

/** One publication's job; the stream (`publication-{publicationId}`) holds the rest. */
export interface PublishJobData {
  publicationId: string;
  ownerId: string;
  platform: string;
  accountId: string;
  /** metrics jobs: which reading of the schedule (1-based) */
  reading?: number;
  /** proxies an earlier try could not reach (the worker adds them) */
  avoidProxyIds?: string[];
}

/** The `publish` queue: publishing, taking down and reading metrics, one publication's jobs at a time. */
export interface PublicationJobs {
  /** the publish job (job id = publication id: a repeat adds nothing) */
  enqueuePublish(jobs: readonly PublishJobData[]): Promise<void>;
  /** one unpublish job per request (`request`: the request event's revision, naming the job) */
  enqueueUnpublish(job: PublishJobData, request: bigint): Promise<void>;
  /** the metrics readings after publishing, each delayed as the schedule says (ids name the reading) */
  enqueueMetrics(job: PublishJobData, delaysMs: readonly number[]): Promise<void>;
}

/** What the automatic pre-review is asked (src/application/review/pre-review.ts). */
export interface PreReviewInput {
  ownerId: string;
  platform: string;
  region: string;
  title: string;
  summary: string | null;
  body: string;
  tags: string[];
  imageCount: number;
}

export interface PreReviewVerdict {
  verdict: 'pass' | 'flag';
  /** what the rules found; passed on to the human review when flagged */
  hits: readonly unknown[];
}

export type PreReview = (input: PreReviewInput) => Promise<PreReviewVerdict>;
