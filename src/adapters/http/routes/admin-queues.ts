import { PassThrough } from 'node:stream';
import type { Router } from '@koa/router';
import { z } from 'zod';
import type { InterventionResult, QueueInterventions } from '../../../application/queue-interventions.js';
import type { QueueMonitor, QueueStatsSnapshot } from '../../../application/queue-monitor.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { errorEnvelopeSchema } from '../openapi.js';
import type { AppContext, AppState } from '../state.js';

/**
 * The live queue monitor and the manual interventions under
 * /api/v1/admin/queues (admin only, like the rest of /admin):
 *
 * - GET /queues/live: Server-Sent Events, one `stats` event per sample
 *   (every second) with every queue; a `: heartbeat` comment every
 *   HEARTBEAT_MS; the stream ends when the client goes, and when the api
 *   shuts down (QueueMonitor.close ends every subscription).
 * - GET /queues/stats: the same as one JSON snapshot.
 * - POST /queues/{name}/pause|resume|retry-failed, POST
 *   /queues/{name}/jobs/{id}/retry|promote, DELETE /queues/{name}/jobs/{id}:
 *   src/application/queue-interventions.ts checks, acts and records the
 *   intervention with the operator (404 unknown queue or job, 409 wrong state).
 */

export interface QueueOperationsDeps {
  monitor: QueueMonitor;
  interventions: QueueInterventions;
}

export const HEARTBEAT_MS = 10_000;

const blockedSchema = z.object({
  since: z.string().describe('when the waiting jobs last moved'),
  detected_at: z.string(),
  waiting: z.number().int(),
  paused: z.boolean(),
});

const queueStatsSchema = z.object({
  name: z.string(),
  waiting: z.number().int().describe('ready for a worker (waiting and prioritized)'),
  active: z.number().int(),
  delayed: z.number().int(),
  failed: z.number().int(),
  paused: z.boolean(),
  added_per_second: z.number().nullable().describe('null on the first sample (no earlier one to compare with)'),
  completed_per_second: z.number().nullable(),
  failed_per_second: z.number().nullable(),
  oldest_waiting_seconds: z.number().int().nullable().describe('age of the oldest waiting job since it became ready; null when none waits'),
  blocked: blockedSchema.nullable().describe('the open blockage episode the detector recorded (QUEUE_BLOCKAGE_SECONDS without moving)'),
});

export const queueStatsSnapshotSchema = z.object({
  at: z.string(),
  interval_ms: z.number().int(),
  detector: z.object({
    running: z.boolean().describe('whether a blockage detector (the projector) has published in the last seconds'),
    threshold_seconds: z.number().int().nullable(),
  }),
  queues: z.array(queueStatsSchema),
  live_streams: z.number().int().describe('how many live streams (GET /queues/live) this api process serves now'),
});

const interventionSchema = z.object({
  queue: z.string(),
  action: z.enum(['pause', 'resume', 'retry_failed', 'retry_job', 'promote_job', 'remove_job']),
  changed: z.boolean().describe('false: there was nothing to do, and nothing was recorded'),
  count: z.number().int().nullable().describe('retry-failed: the failed jobs moved back to waiting'),
  job_id: z.string().nullable(),
  previous_state: z.string().nullable().describe("the job's state before the action"),
  event: z.string().nullable().describe('the recorded event (QueuePaused, QueueResumed, FailedJobsRetried, JobRetried, JobPromoted, JobRemoved)'),
});

export function snapshotView(s: QueueStatsSnapshot, liveStreams: number): z.input<typeof queueStatsSnapshotSchema> {
  return {
    live_streams: liveStreams,
    at: s.at,
    interval_ms: s.intervalMs,
    detector: { running: s.detector.running, threshold_seconds: s.detector.thresholdSeconds },
    queues: s.queues.map((q) => ({
      name: q.name,
      waiting: q.waiting,
      active: q.active,
      delayed: q.delayed,
      failed: q.failed,
      paused: q.paused,
      added_per_second: q.addedPerSecond,
      completed_per_second: q.completedPerSecond,
      failed_per_second: q.failedPerSecond,
      oldest_waiting_seconds: q.oldestWaitingSeconds,
      blocked: q.blocked ? { since: q.blocked.blockedSince, detected_at: q.blocked.detectedAt, waiting: q.blocked.waiting, paused: q.blocked.paused } : null,
    })),
  };
}

const interventionView = (r: InterventionResult): z.input<typeof interventionSchema> => ({
  queue: r.queue,
  action: r.action,
  changed: r.changed,
  count: r.count ?? null,
  job_id: r.jobId ?? null,
  previous_state: r.previousState ?? null,
  event: r.event,
});

const queueParams = z.object({ name: z.string().min(1).max(64) });
const jobParams = z.object({ name: z.string().min(1).max(64), id: z.string().min(1).max(200) });

/** Streams the monitor's samples to one client until it goes or the monitor closes. */
function liveStream(ctx: AppContext, monitor: QueueMonitor): void {
  const stream = new PassThrough();
  let ended = false;
  const write = (text: string) => {
    if (!ended) stream.write(text);
  };
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.req.socket.setKeepAlive(true);
  ctx.status = 200;
  ctx.set('Content-Type', 'text/event-stream; charset=utf-8');
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Connection', 'keep-alive');
  // no proxy buffering (nginx): every event goes out as it is written
  ctx.set('X-Accel-Buffering', 'no');
  ctx.body = stream;
  write('retry: 3000\n\n');
  let heartbeat: NodeJS.Timeout | undefined;
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    unsubscribe();
    stream.end();
  };
  const unsubscribe = monitor.subscribe(
    (snapshot) => write(`event: stats\nid: ${snapshot.at}\ndata: ${JSON.stringify(snapshotView(snapshot, monitor.subscribers))}\n\n`),
    () => {
      write('event: end\ndata: {"reason":"shutdown"}\n\n');
      end();
    },
  );
  heartbeat = setInterval(() => write(`: heartbeat ${new Date().toISOString()}\n\n`), HEARTBEAT_MS);
  heartbeat.unref();
  ctx.req.on('close', end);
  ctx.res.on('close', end);
}

export function registerQueueOperationRoutes(router: Router<AppState>, admin: HttpApi, deps: QueueOperationsDeps): void {
  const { monitor, interventions } = deps;
  const tags = ['admin'];
  const operator = (ctx: AppContext) => currentUser(ctx).id;
  const context = (ctx: AppContext) => commandContext(ctx, currentUser(ctx).id);

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/queues/live',
      summary: 'Live queue stats (admin, Server-Sent Events)',
      description:
        'A text/event-stream: `retry: 3000` first, then one `stats` event per sample (every second) whose data is the same JSON as ' +
        'GET /api/v1/admin/queues/stats (every queue: waiting, active, delayed, failed, paused, jobs added / completed / failed per second, ' +
        'the oldest waiting job, and the blockage alert), a `: heartbeat` comment every 10 s, and `event: end` before the server shuts down. ' +
        'The stream stays open until the client closes it. Needs the bearer token in the Authorization header (read it with fetch, not EventSource).',
      tags,
      auth: true,
      permission: 'platform.queues.view',
      envelope: false,
      responses: {
        200: {
          description: 'the event stream; each `stats` event`s data is the snapshot object',
          contentType: 'text/event-stream',
          schema: z.string().describe('event: stats\\nid: <sample time>\\ndata: <the snapshot as JSON, see GET /api/v1/admin/queues/stats>\\n\\n'),
        },
        401: { description: 'Missing or invalid access token (UNAUTHENTICATED)', schema: errorEnvelopeSchema },
        403: { description: 'Not an admin, or an API key (PERMISSION_DENIED)', schema: errorEnvelopeSchema },
        // before the stream starts: checking the session needs Postgres and Redis, as on every signed-in route
        500: { description: 'Internal error (INTERNAL_ERROR)', schema: errorEnvelopeSchema },
        503: { description: 'Postgres or Redis is unavailable for a moment (SERVICE_UNAVAILABLE); see Retry-After', schema: errorEnvelopeSchema },
      },
    },
    (_input, ctx) => liveStream(ctx, monitor),
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/queues/stats',
      summary: 'Queue stats snapshot (admin)',
      description:
        'Every queue now: waiting, active, delayed, failed, paused, jobs added / completed / failed per second over the last second ' +
        '(null right after the monitor starts), the oldest waiting job, and whether the blockage detector holds it blocked. ' +
        'Live: GET /api/v1/admin/queues/live.',
      tags,
      auth: true,
      permission: 'platform.queues.view',
      responses: { 200: { description: 'the snapshot', schema: queueStatsSnapshotSchema } },
      errors: [403],
    },
    async () => snapshotView(await monitor.snapshot(), monitor.subscribers),
  );

  const queueAction = (path: string, summary: string, description: string, run: (name: string, ctx: AppContext) => Promise<InterventionResult>) =>
    defineRoute(
      router,
      admin,
      {
        method: 'post',
        path: `/queues/:name/${path}`,
        summary,
        description: `${description} Recorded with the operator on \`queue_intervention-{queue}_{YYYYMMDD}\`; a repeat that changes nothing answers changed: false and records nothing.`,
        tags,
        auth: true,
        permission: 'platform.queues.edit',
        request: { params: queueParams },
        responses: { 200: { description: 'done (or nothing to do)', schema: interventionSchema } },
        errors: [403, 404],
      },
      async ({ params }, ctx) => interventionView(await run(params.name, ctx)),
    );

  queueAction('pause', 'Pause a queue (admin)', 'Workers take no new job from it (running ones finish): QueuePaused.', (name, ctx) =>
    interventions.pause(name, operator(ctx), context(ctx)),
  );
  queueAction('resume', 'Resume a queue (admin)', 'Workers take its jobs again: QueueResumed.', (name, ctx) =>
    interventions.resume(name, operator(ctx), context(ctx)),
  );
  queueAction('retry-failed', "Retry a queue's failed jobs (admin)", 'Moves every failed job back to waiting: FailedJobsRetried with the count.', (name, ctx) =>
    interventions.retryFailed(name, operator(ctx), context(ctx)),
  );

  const jobAction = (
    method: 'post' | 'delete',
    path: string,
    summary: string,
    description: string,
    run: (name: string, id: string, ctx: AppContext) => Promise<InterventionResult>,
  ) =>
    defineRoute(
      router,
      admin,
      {
        method,
        path: `/queues/:name/jobs/:id${path}`,
        summary,
        description: `${description} Recorded with the operator on \`queue_intervention-{queue}_{YYYYMMDD}\`.`,
        tags,
        auth: true,
        permission: method === 'delete' ? 'platform.queues.delete' : 'platform.queues.run',
        request: { params: jobParams },
        responses: { 200: { description: 'done', schema: interventionSchema } },
        errors: [403, 404, 409],
      },
      async ({ params }, ctx) => interventionView(await run(params.name, params.id, ctx)),
    );

  jobAction(
    'post',
    '/retry',
    'Retry a failed job (admin)',
    'A failed job goes back to waiting (409 for a job in another state): JobRetried.',
    (name, id, ctx) => interventions.retryJob(name, id, operator(ctx), context(ctx)),
  );
  jobAction('post', '/promote', 'Promote a delayed job (admin)', 'A delayed job becomes ready now (409 unless it is delayed): JobPromoted.', (name, id, ctx) =>
    interventions.promoteJob(name, id, operator(ctx), context(ctx)),
  );
  jobAction(
    'delete',
    '',
    'Remove a job (admin)',
    'Removes a job in any state but active (409: a worker holds it): JobRemoved with the state it was in.',
    (name, id, ctx) => interventions.removeJob(name, id, operator(ctx), context(ctx)),
  );
}
