import { Router } from '@koa/router';
import { Queue, type Job } from 'bullmq';
import { z } from 'zod';
import { projectionDefinitions, projectionStatuses, type ProjectionStatusView } from '../../../operations/projections.js';
import { correlationTimeline, listCategories, listStreams, searchEvents, streamEvents, streamStateAt } from '../../../operations/streams.js';
import { StreamNotFoundError } from '../../../event-store/errors.js';
import { MAX_COMMIT, MAX_PREPARE, parsePosition, storablePosition } from '../../../event-store/position.js';
import type { EventView, OpsDeps, RebuildProgress } from '../../../operations/types.js';
import { enqueueRebuild, REBUILD_JOB_NAME, REBUILD_QUEUE } from '../../queue/rebuild-job.js';
import { MONITORED_QUEUE_NAMES } from '../../queue/monitored-queues.js';
import type { QueueFactory } from '../../queue/queues.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { readinessWarnings } from '../readiness.js';
import { registerDeadLetterRoutes, type WithConsumers } from './dead-letters.js';
import { registerQueueOperationRoutes, type QueueOperationsDeps } from './admin-queues.js';
import { pageOf, pageSchema, paginationQuery } from '../pagination.js';
import { instantQuery } from '../instant.js';
import type { AppState } from '../state.js';
import { decimalInteger } from '../query.js';

/** The BullMQ queues the console shows, the monitor samples and the admin API acts on (rebuilds go to `maintenance`): every queue of the platform. */
export const ADMIN_QUEUE_NAMES = MONITORED_QUEUE_NAMES;

/**
 * Producer-side handles on the platform's queues, opened on first use (an api
 * that is never asked about queues opens no extra Redis connections) and
 * closed with `close()` (the api app ties it to the container's disposal).
 */
export class AdminQueues {
  private opened: Map<string, Queue> | undefined;

  constructor(private readonly factory: QueueFactory) {}

  get prefix(): string {
    return this.factory.prefix;
  }

  all(): Queue[] {
    if (!this.opened) {
      this.opened = new Map(
        ADMIN_QUEUE_NAMES.map((name) => [name, new Queue(name, { connection: this.factory.connection('queue'), prefix: this.factory.prefix })]),
      );
    }
    return [...this.opened.values()];
  }

  get(name: string): Queue {
    const queue = this.all().find((q) => q.name === name);
    if (!queue) throw new Error(`no queue ${name}`);
    return queue;
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened) await Promise.all([...opened.values()].map((q) => q.close()));
  }
}

export interface AdminRouteDeps {
  ops: OpsDeps;
  queues: AdminQueues;
  /** the consumers with their real adapters, for retrying a parked event; without it a retry answers 409 */
  withConsumers?: WithConsumers;
  /** the live queue monitor and the interventions (/queues/live, /queues/stats, pause, resume, retries, job removal) */
  queueOperations?: QueueOperationsDeps;
}

// ---- shapes (snake_case like the rest of /api/v1; event data and metadata as stored) ----

const eventSchema = z.object({
  id: z.string(),
  stream: z.string(),
  revision: z.string().describe('decimal'),
  position: z.string().describe('<commit>-<prepare>'),
  type: z.string(),
  created: z.string(),
  data: z.unknown(),
  metadata: z.record(z.string(), z.unknown()).describe('$correlationId, $causationId, userId (or pm:<name>), requestId, …'),
});

const rebuildProgressSchema = z.object({
  name: z.string(),
  phase: z.enum(['replaying', 'swapping', 'done']),
  processed_events: z.number().int(),
  total_events: z.number().int(),
  /** false while the rebuild still counts its events (beside the load): total_events is then the handled count, and eta_seconds null */
  total_counted: z.boolean(),
  events_per_second: z.number(),
  eta_seconds: z.number().nullable(),
  started_at: z.string(),
  /** in a projection's status: whether a process runs it now (false: it failed or was interrupted; a new rebuild resumes it) */
  running: z.boolean().optional(),
});

const projectionSchema = z.object({
  name: z.string(),
  base: z.string(),
  version: z.number().int(),
  tables: z.array(z.string()),
  checkpoint: z.string().nullable(),
  head: z.string(),
  lag_events: z.number().int(),
  lag_seconds: z.number().nullable(),
  state: z.enum(['live', 'rebuilding', 'never-ran']),
  rebuild: rebuildProgressSchema.nullable(),
});

const rebuildJobSchema = z.object({
  job_id: z.string(),
  projection: z.string().nullable(),
  state: z.string().describe('waiting, active, completed, failed, delayed, unknown'),
  progress: rebuildProgressSchema.nullable(),
  failed_reason: z.string().nullable(),
  created_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});

const queueSchema = z.object({
  name: z.string(),
  paused: z.boolean(),
  counts: z.object({
    waiting: z.number().int(),
    active: z.number().int(),
    completed: z.number().int(),
    failed: z.number().int(),
    delayed: z.number().int(),
    prioritized: z.number().int(),
  }),
});

const MAX_REVISION = (1n << 63n) - 1n;
// the store's revisions are signed 64-bit: a larger one is a bad request, not a database error
const REVISION = z
  .string()
  .regex(/^\d{1,19}$/, 'a stream revision (decimal)')
  // zod runs this after a failed regex too: only digits are compared (BigInt would throw on the rest)
  .refine((value) => !/^\d{1,19}$/.test(value) || BigInt(value) <= MAX_REVISION, 'a stream revision is at most 9223372036854775807');
const STREAM = z.string().min(1).max(500);
// larger than any stored event's is a bad request, not a database error
const POSITION_TEXT = /^\d{1,20}-\d{1,20}$/;
const POSITION = z
  .string()
  .regex(POSITION_TEXT, 'a position is <commit>-<prepare>, e.g. 812-40')
  // zod runs this after a failed regex too: only a well-formed position is checked here (the regex said the rest)
  .refine(
    (value) => !POSITION_TEXT.test(value) || storablePosition(value) !== undefined,
    `a position's commit is at most ${MAX_COMMIT}, its prepare at most ${MAX_PREPARE}`,
  );

function progressView(p: RebuildProgress | null | undefined): z.input<typeof rebuildProgressSchema> | null {
  if (!p || typeof p !== 'object' || typeof p.name !== 'string') return null;
  return {
    name: p.name,
    phase: p.phase,
    processed_events: p.processedEvents,
    total_events: p.totalEvents,
    // progress a job reported before the flag existed had its total counted
    total_counted: p.counted ?? true,
    events_per_second: p.eventsPerSecond,
    eta_seconds: p.etaSeconds,
    started_at: p.startedAt,
  };
}

function projectionView(s: ProjectionStatusView): z.input<typeof projectionSchema> {
  return {
    name: s.name,
    base: s.base,
    version: s.version,
    tables: [...s.tables],
    checkpoint: s.checkpoint,
    head: s.head,
    lag_events: s.lagEvents,
    lag_seconds: s.lagSeconds,
    state: s.state,
    rebuild: s.rebuild ? { ...progressView(s.rebuild)!, running: s.rebuild.running } : null,
  };
}

const eventView = (e: EventView): z.input<typeof eventSchema> => ({ ...e });

/** `state`: read before the job itself, so a finished state comes with the job's finished time and return value. */
function rebuildJobView(job: Job, state: string): z.input<typeof rebuildJobSchema> {
  const data = (job.data ?? {}) as { name?: unknown; projection?: unknown };
  const projection = typeof data.name === 'string' ? data.name : typeof data.projection === 'string' ? data.projection : null;
  // the processor reports RebuildProgress with updateProgress; the finished job's return value is the last one
  const progress = progressView((job.returnvalue ?? job.progress) as RebuildProgress | null) ?? progressView(job.progress as RebuildProgress | null);
  return {
    job_id: String(job.id),
    projection,
    state,
    progress,
    failed_reason: job.failedReason || null,
    created_at: job.timestamp ? new Date(job.timestamp).toISOString() : null,
    finished_at: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}

/**
 * The console's JSON API, `/api/v1/admin`: event store browsing,
 * aggregate state at a revision, correlation timelines, projection status and
 * rebuilds, queue counts. Every route needs a bearer token of an admin (401
 * without one, 403 for another role). Reads go to src/operations; a rebuild
 * is a `rebuild-projection` job on the maintenance queue that the worker runs.
 */
export function adminRouter(api: HttpApi, deps: AdminRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/admin' });
  // every route names its platform.* permission: the policy lets platform admins through
  const admin = api;
  const { ops, queues } = deps;
  const tags = ['admin'];
  const knownProjections = () => new Set(projectionDefinitions(ops.timeZone).map((d) => d.name));
  // what /readyz warns about, for the console (which has no ops token)
  const warnings = readinessWarnings(ops);

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/categories',
      summary: 'Stream categories (admin)',
      description: 'The part of the stream name before the first "-", with how many streams and events each has.',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      responses: {
        200: {
          description: 'the categories',
          schema: z.array(z.object({ category: z.string(), streams: z.number().int(), events: z.number().int(), last_event_at: z.string().nullable() })),
        },
      },
      errors: [403],
    },
    async () => (await listCategories(ops)).map((c) => ({ category: c.category, streams: c.streams, events: c.events, last_event_at: c.lastEventAt })),
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/streams',
      summary: 'Streams (admin)',
      description: 'Paged; filtered by category (exact) and/or name prefix.',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      request: { query: paginationQuery.extend({ category: z.string().min(1).max(200).optional(), prefix: z.string().min(1).max(500).optional() }) },
      responses: {
        200: {
          description: 'a page of streams',
          schema: pageSchema(z.object({ stream: z.string(), revision: z.string(), events: z.number().int(), last_event_at: z.string() })),
        },
      },
      errors: [403],
    },
    async ({ query }) => {
      const { items, total } = await listStreams(ops, {
        ...(query.category ? { category: query.category } : {}),
        ...(query.prefix ? { prefix: query.prefix } : {}),
        page: query.page,
        perPage: query.per_page,
      });
      return pageOf(
        items.map((s) => ({ stream: s.stream, revision: s.revision, events: s.events, last_event_at: s.lastEventAt })),
        query,
        total,
      );
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/streams/:stream/events',
      summary: "A stream's events (admin)",
      description: 'In revision order from `from_revision` (default 0), at most `limit` (default 100, at most 1000), with data and metadata.',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      request: {
        params: z.object({ stream: STREAM }),
        query: z.object({ from_revision: REVISION.optional(), limit: decimalInteger({ min: 1, max: 1000 }).default(100) }),
      },
      responses: { 200: { description: 'the events', schema: z.array(eventSchema) } },
      errors: [403, 404],
    },
    async ({ params, query }) => {
      const events = await streamEvents(ops, params.stream, {
        ...(query.from_revision !== undefined ? { fromRevision: BigInt(query.from_revision) } : {}),
        limit: query.limit,
      }).catch((error: unknown) => {
        if (error instanceof StreamNotFoundError) return [];
        throw error;
      });
      if (events.length === 0 && query.from_revision === undefined) throw new HttpError(404, 'NOT_FOUND', 'no such stream');
      return events.map(eventView);
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/streams/:stream/state',
      summary: "An aggregate's state at a revision (admin)",
      description:
        "The stream's aggregate state (its events decoded and folded by its decider) up to and including `at` (default: the last revision), with the event at that revision. " +
        'aggregate is null (and state null) for a category without a decider.',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      request: { params: z.object({ stream: STREAM }), query: z.object({ at: REVISION.optional() }) },
      responses: {
        200: {
          description: 'the state',
          schema: z.object({
            stream: z.string(),
            aggregate: z.string().nullable(),
            revision: z.string(),
            state: z.unknown(),
            last_revision: z.string().describe("the stream's newest revision"),
            event: eventSchema.nullable(),
          }),
        },
      },
      errors: [403, 404],
    },
    async ({ params, query }) => {
      // the stream's newest revision first: a missing stream or revision is a 404, and the console can offer every revision
      const [newest] = await ops.store.readStream(params.stream, { direction: 'backwards', maxCount: 1 }).catch((error: unknown) => {
        if (error instanceof StreamNotFoundError) return [];
        throw error;
      });
      if (!newest) throw new HttpError(404, 'NOT_FOUND', 'no such stream');
      if (query.at !== undefined && BigInt(query.at) > newest.revision) {
        throw new HttpError(404, 'NOT_FOUND', `the stream has no revision ${query.at}`, { last_revision: newest.revision.toString() });
      }
      const found = await streamStateAt(ops, params.stream, query.at !== undefined ? BigInt(query.at) : undefined);
      return {
        stream: found.stream,
        aggregate: found.aggregate,
        revision: found.revision,
        last_revision: newest.revision.toString(),
        state: found.state,
        event: found.event ? eventView(found.event) : null,
      };
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/correlations/:correlationId',
      summary: 'A correlation id across aggregates (admin)',
      description:
        'The events whose metadata.$correlationId is this id, in $all order: one request and everything it set off. ' +
        'At most `limit` (default 100, at most 1000), after `from_position` (exclusive; default the start). To page on, give the last ' +
        "event's position as `from_position`: no event is skipped or repeated. A page shorter than `limit` is the end for now " +
        '(events written later come after its last position).',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      request: {
        params: z.object({ correlationId: z.string().min(1).max(200) }),
        query: z.object({
          from_position: POSITION.optional().describe("`<commit>-<prepare>`: the events after it; a page's last position starts the next page"),
          limit: decimalInteger({ min: 1, max: 1000 }).default(100),
        }),
      },
      responses: { 200: { description: 'a page of the timeline', schema: z.array(eventSchema) } },
      errors: [403],
    },
    async ({ params, query }) =>
      (
        await correlationTimeline(ops, params.correlationId, {
          ...(query.from_position !== undefined ? { after: parsePosition(query.from_position) } : {}),
          limit: query.limit,
        })
      ).map(eventView),
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/events',
      summary: 'Search events (admin)',
      description:
        'By correlation id, by user (who caused it or whom it concerns), by type (comma-separated), stream prefix and time range ' +
        '(`from` inclusive, `to` exclusive: ISO-8601 date-times with an offset, years 0001–9999; `from` after `to` is 422).',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      request: {
        query: z
          .object({
            correlation_id: z.string().min(1).max(200).optional(),
            user_id: z.string().min(1).max(200).optional(),
            type: z.string().min(1).max(1000).optional().describe('comma-separated event types'),
            stream_prefix: z.string().min(1).max(500).optional(),
            from: instantQuery.optional(),
            to: instantQuery.optional(),
            limit: decimalInteger({ min: 1, max: 1000 }).default(100),
          })
          // instants, compared as such: a range ending before it starts is a mistake, not an empty answer
          .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to), {
            message: 'from must not be after to',
            path: ['from'],
          }),
      },
      responses: { 200: { description: 'matching events, in $all order', schema: z.array(eventSchema) } },
      errors: [403],
    },
    async ({ query }) => {
      const types = query.type
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      const events = await searchEvents(ops, {
        ...(query.correlation_id ? { correlationId: query.correlation_id } : {}),
        ...(query.user_id ? { userId: query.user_id } : {}),
        ...(types && types.length > 0 ? { types } : {}),
        ...(query.stream_prefix ? { streamPrefix: query.stream_prefix } : {}),
        ...(query.from ? { from: query.from } : {}),
        ...(query.to ? { to: query.to } : {}),
        limit: query.limit,
      });
      return events.map(eventView);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/projections',
      summary: 'Projection status (admin)',
      description:
        'Each projection: checkpoint, head, lag in events and seconds, state, and the progress of a rebuild in flight. ' +
        '`lag_events` counts every event in $all after the checkpoint (all types: an upper bound of what the projection still has to look at). ' +
        '`lag_seconds` is the age of the oldest event not yet passed (for a projection that never ran, of the first event in $all); null when caught up. ' +
        'What holds every projection back: GET /api/v1/admin/warnings.',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      responses: { 200: { description: 'the projections', schema: z.array(projectionSchema) } },
      errors: [403],
    },
    async () => (await projectionStatuses(ops)).map(projectionView),
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/warnings',
      summary: 'What holds event delivery back (admin)',
      description:
        'The warnings of GET /readyz, for admins without the ops token (the console shows them above its projections): on the Postgres ' +
        'event store, a transaction that has held back $all delivery for more than 5 s, named by pid, application, state and database; ' +
        'the projections lag until it ends. Empty when there are none.',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      responses: { 200: { description: 'the warnings', schema: z.object({ warnings: z.array(z.string()) }) } },
      errors: [403],
    },
    async (_input, ctx) => ({
      // as /readyz: a warning that cannot be read is logged, not a failed answer
      warnings: await warnings().catch((error: unknown) => {
        ctx.state.logger.warn({ err: error }, 'readiness warnings could not be read');
        return [];
      }),
    }),
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/projections/:name',
      summary: 'One projection (admin)',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      request: { params: z.object({ name: z.string().min(1).max(200) }) },
      responses: { 200: { description: 'the projection', schema: projectionSchema } },
      errors: [403, 404],
    },
    async ({ params }) => {
      if (!knownProjections().has(params.name)) throw new HttpError(404, 'NOT_FOUND', 'no such projection');
      const [status] = await projectionStatuses(ops, [params.name]);
      if (!status) throw new HttpError(404, 'NOT_FOUND', 'no such projection');
      return projectionView(status);
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'post',
      path: '/projections/:name/rebuild',
      summary: 'Rebuild a projection (admin)',
      description:
        'Enqueues a `rebuild-projection` job on the maintenance queue: the worker replays every event into shadow tables while the live ' +
        'version keeps serving, then swaps. While one for this projection is waiting, delayed or running, its job id is answered again ' +
        '(202 as well) and nothing is added. The answer carries `Location: /api/v1/admin/rebuilds/{job_id}`: follow it there or with ' +
        'GET /api/v1/admin/projections. An unknown projection name is 404.',
      tags,
      auth: true,
      permission: 'platform.operations.run',
      idempotent: false,
      request: { params: z.object({ name: z.string().min(1).max(200) }) },
      responses: {
        202: {
          description: 'enqueued, or the job already waiting or running; `Location` names GET /api/v1/admin/rebuilds/{job_id}',
          schema: z.object({ job_id: z.string(), projection: z.string() }),
        },
      },
      errors: [403, 404],
    },
    async ({ params }, ctx) => {
      if (!knownProjections().has(params.name)) throw new HttpError(404, 'NOT_FOUND', 'no such projection');
      const { jobId } = await enqueueRebuild(queues.get(REBUILD_QUEUE), params.name);
      ctx.state.logger.info({ projection: params.name, jobId }, 'projection rebuild requested');
      ctx.set('Location', `/api/v1/admin/rebuilds/${encodeURIComponent(jobId)}`);
      return { job_id: jobId, projection: params.name };
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/rebuilds/:jobId',
      summary: 'A rebuild job (admin)',
      description: 'Its BullMQ state and the last progress it reported (events passed, total, rate, ETA, phase).',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      request: { params: z.object({ jobId: z.string().min(1).max(200) }) },
      responses: { 200: { description: 'the job', schema: rebuildJobSchema } },
      errors: [403, 404],
    },
    async ({ params }) => {
      const queue = queues.get(REBUILD_QUEUE);
      // the state first: read after the job, it could say completed of a job read while it still ran
      const state = await queue.getJobState(params.jobId);
      const job = await queue.getJob(params.jobId);
      if (!job || job.name !== REBUILD_JOB_NAME) throw new HttpError(404, 'NOT_FOUND', 'no such rebuild job');
      return rebuildJobView(job, state);
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/queues',
      summary: 'Queue counts (admin)',
      description: 'Jobs per state in each BullMQ queue of the platform; the dashboard is at /console/queues.',
      tags,
      auth: true,
      permission: 'platform.queues.view',
      responses: { 200: { description: 'the queues', schema: z.object({ prefix: z.string(), queues: z.array(queueSchema) }) } },
      errors: [403],
    },
    async () => ({
      prefix: queues.prefix,
      queues: await Promise.all(
        queues.all().map(async (q) => {
          const counts = await q.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
          return {
            name: q.name,
            paused: await q.isPaused(),
            counts: {
              waiting: counts.waiting ?? 0,
              active: counts.active ?? 0,
              completed: counts.completed ?? 0,
              failed: counts.failed ?? 0,
              delayed: counts.delayed ?? 0,
              prioritized: counts.prioritized ?? 0,
            },
          };
        }),
      ),
    }),
  );

  // live stats (SSE and snapshot) and the audited interventions: /queues/live, /queues/stats, /queues/{name}/…
  if (deps.queueOperations) registerQueueOperationRoutes(router, admin, deps.queueOperations);

  // parked events: /dead-letters (list, retry, skip)
  registerDeadLetterRoutes(router, admin, { ops, ...(deps.withConsumers ? { withConsumers: deps.withConsumers } : {}) });

  return router;
}
