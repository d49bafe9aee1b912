import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import {
  cancelExecution,
  createWorkflow,
  deleteWorkflow,
  pauseWorkflow,
  recordResults,
  requestExecution,
  resumeWorkflow,
  updateWorkflow,
  type Caller,
  type WorkflowDeps,
} from '../../../application/workflows.js';
import type { EventStore } from '../../../event-store/port.js';
import { PLATFORM_IDS, userWorkflowTypeNames, workflowTypeNames } from '../../../platforms/registry.js';
import { WORKFLOWS_PROJECTION } from '../../../projections/workflows.js';
import { findExecution, findWorkflow, listExecutions, listWorkflows } from '../../../read-api/workflows.js';
import { SCHEDULE_INTERVALS } from '../../../write-model/workflow/events.js';
import { accessOf } from '../access.js';
import { newResourceOwner, ownerField } from '../owner-choice.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

export interface WorkflowsRouteDeps {
  store: EventStore;
  knex: Knex;
  /** config QUOTA_TIME_ZONE */
  timeZone: string;
  /** the clock (tests) */
  now?: () => Date;
}

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });

const scheduleSchema = z
  .discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('cron'),
        expression: z
          .string()
          .trim()
          .min(1)
          .max(100)
          .describe('5 fields: minute hour day-of-month month day-of-week, in QUOTA_TIME_ZONE; one that cannot run (a minute of 60, February 31st) is 422'),
      })
      .strict(),
    z.object({ kind: z.literal('interval'), every: z.enum(SCHEDULE_INTERVALS) }).strict(),
  ])
  .describe('a cron expression of 5 fields, or an interval');

const TYPE_NAMES = workflowTypeNames() as [string, ...string[]];
/** what POST may create: not the types the platform keeps (qidian.watchlist) */
const USER_TYPE_NAMES = userWorkflowTypeNames() as [string, ...string[]];
const configSchema = z.record(z.string(), z.unknown()).describe("the type's config (see the platform registry); checked against the plan");
const accountIdSchema = z.string().trim().min(1).max(100);
const proxyRegionSchema = z
  .string()
  .trim()
  .regex(/^[\p{L}\p{N}][\p{L}\p{N}_-]{0,63}$/u, 'a region or country code, as proxies are registered with (e.g. shanghai, CN)')
  .describe("only proxies whose region or country is this (case-insensitive) carry the workflow's runs; none free: the run waits and retries");

const workflowSchema = z.object({
  id: z.string(),
  owner_id: z.string().describe("who owns it: a user's id, or the organization's id for one the organization owns"),
  platform: z.string(),
  type: z.string(),
  name: z.string(),
  config: z.record(z.string(), z.unknown()),
  platform_account_id: z.string().nullable(),
  proxy_region: z.string().nullable().describe('null: proxies of any region'),
  schedule: z.record(z.string(), z.unknown()).nullable().describe('{kind: cron, expression} or {kind: interval, every}; null: none'),
  status: z.string().describe('active or paused'),
  paused_for: z.array(z.string()).describe('user, quota_exceeded, account_invalidated'),
  pauses: z.array(z.object({ reason: z.string(), until: z.string().nullable(), by: z.string().nullable(), paused_at: z.string() })),
  created_at: z.string(),
  updated_at: z.string(),
  last_run_at: z.string().nullable().describe('the last time an execution started'),
  last_execution_id: z.string().nullable(),
  revision: z.string(),
});

const executionSchema = z.object({
  id: z.string(),
  workflow_id: z.string(),
  platform: z.string(),
  type: z.string(),
  platform_account_id: z.string().nullable(),
  trigger: z.string().describe('manual, schedule, or one_off (POST /xiaohongshu/contents/collect: no workflow, workflow_id is the execution id)'),
  status: z.string().describe('requested, rejected, running, retrying, paused, completed, failed, cancelled'),
  attempt: z.number().int(),
  proxy_id: z.string().nullable(),
  item_count: z.number().int(),
  cursor: z.string().nullable(),
  pause_reason: z.string().nullable(),
  rejection_reason: z.string().nullable(),
  rejection_details: z.record(z.string(), z.unknown()).nullable(),
  failure_reason: z.string().nullable(),
  requested_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  updated_at: z.string(),
  revision: z.string(),
});

const idParams = z.object({ id: z.uuid('a workflow or execution id is a UUID') });

const createBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    type: z.enum(USER_TYPE_NAMES),
    config: configSchema,
    platform_account_id: accountIdSchema.nullable().optional(),
    schedule: scheduleSchema.nullable().optional(),
    proxy_region: proxyRegionSchema.nullable().optional(),
    owner: ownerField,
  })
  .strict();

const updateBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    config: configSchema.optional(),
    platform_account_id: accountIdSchema.nullable().optional().describe('null: no account'),
    schedule: scheduleSchema.nullable().optional().describe('null: no schedule'),
    proxy_region: proxyRegionSchema.nullable().optional().describe('null: any region'),
  })
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'nothing to change' });

const listQuery = paginationQuery
  .extend({
    platform: z.enum(PLATFORM_IDS).optional(),
    type: z.enum(TYPE_NAMES).optional(),
    status: z.enum(['active', 'paused']).optional(),
  })
  .extend(afterPositionQuery.shape);

const resultsBody = z
  .object({
    worker_id: z.string().trim().min(1).max(200),
    batch_id: z.string().trim().min(1).max(200).describe('a re-sent batch with the same id is a no-op'),
    kind: z.string().min(1).max(100).optional().describe("the item kind; default: the workflow type's"),
    items: z.array(z.record(z.string(), z.unknown())).max(1000).default([]).describe("parsed items, each as the registry's item schema for the kind"),
    cursor: z.string().max(4000).nullable().optional().describe('where a retry resumes; absent: unchanged'),
    done: z.boolean().default(false).describe('the run is over: complete the execution'),
  })
  .strict();

const resultsSchema = commandResultSchema.extend({
  execution_id: z.string(),
  status: z.string(),
  attempt: z.number().int(),
  item_count: z.number().int(),
  accepted: z.number().int().describe('items of this batch recorded now'),
  duplicates: z.number().int().describe('items the execution already had (all of them for a repeated batch)'),
});

/**
 * `/api/v1/workflows`: the caller's workflows and their executions, plus the
 * collector workers' door (admin only) to feed results. Reads come from the
 * `workflows-v1` read model (`?after_position=` waits for it); commands go
 * through src/application/workflows.ts. Another user's workflow or execution
 * is a 404 on every route.
 *
 * Route order matters: `/executions/...` is registered before `/:id...`, so
 * an execution path is never taken for a workflow id.
 */
export function workflowsRouter(api: HttpApi, deps: WorkflowsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/workflows' });
  const { knex } = deps;
  const app: WorkflowDeps = { store: deps.store, timeZone: deps.timeZone, now: () => deps.now?.() ?? new Date(), knex };
  const caller = (ctx: AppContext): Caller => {
    const user = currentUser(ctx);
    // the workflows the caller's data scope reaches (an organization admin: every member's)
    return { userId: user.id, context: commandContext(ctx, user.id), ownerIds: accessOf(ctx).ownerIds };
  };

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      summary: 'My workflows',
      description: 'Newest first; deleted workflows are not listed. Filters: platform, type, status.',
      tags: ['workflows'],
      auth: true,
      permission: 'collection.workflows.view',
      request: { query: listQuery },
      responses: { 200: { description: 'a page of workflows', schema: pageSchema(workflowSchema) } },
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, knex, WORKFLOWS_PROJECTION);
      const { platform, type, status } = query;
      return listWorkflows(knex, accessOf(ctx).ownerIds, { platform, type, status }, query);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/',
      summary: 'Create a workflow',
      description:
        "The config is validated with the type's schema (422 with the issues under body.config). A platform account, when given, " +
        "must be the workflow owner's (404), of the same platform (422) and not disconnected (409); none is needed to create one, " +
        "but a run of a type that logs in (the Xiaohongshu ones) is rejected (ACCOUNT_INVALID) without one. Only then is it checked against the caller's " +
        "current plan of the platform's service: a feature not in the plan is 403 (details.feature), a run over the plan's limit " +
        '429 QUOTA_EXCEEDED. Xiaohongshu ' +
        'workflows hold one automation_workflows slot while they exist: none left is 429 with feature automation_workflows. ' +
        "With owner organization the workflow, its runs and what they collect are the organization's (owner_id is its id): " +
        'its account must be one the organization owns, and it stays when its maker leaves.',
      tags: ['workflows'],
      auth: true,
      permission: 'collection.workflows.create',
      request: { body: createBody },
      responses: { 201: { description: 'created', schema: commandResultSchema.extend({ id: z.string() }) } },
      errors: [403, 404, 409, 429],
    },
    async ({ body }, ctx) => {
      const created = await createWorkflow(
        app,
        { ...caller(ctx), userId: newResourceOwner(ctx, body.owner) },
        {
          name: body.name,
          type: body.type,
          config: body.config,
          platformAccountId: body.platform_account_id ?? null,
          schedule: body.schedule ?? null,
          proxyRegion: body.proxy_region ?? null,
        },
      );
      ctx.set('Location', `/api/v1/workflows/${created.workflowId}`);
      commandResult(ctx, created, { status: 201, extra: { id: created.workflowId } });
    },
  );

  // ---- executions (before /:id)

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/executions/:id',
      summary: 'One of my executions',
      tags: ['workflows'],
      auth: true,
      permission: 'collection.executions.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the execution', schema: executionSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      await awaitPosition(ctx, knex, WORKFLOWS_PROJECTION);
      const found = await findExecution(knex, accessOf(ctx).ownerIds, params.id);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'execution not found');
      ctx.set('ETag', `"${found.revision}"`);
      return found;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/executions/:id/cancel',
      summary: 'Cancel one of my executions',
      description: 'A finished execution (completed, failed, rejected) is 409; cancelling a cancelled one again changes nothing.',
      tags: ['workflows'],
      auth: true,
      permission: 'collection.executions.edit',
      request: { params: idParams },
      responses: { 200: { description: 'cancelled', schema: commandResultSchema } },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      commandResult(ctx, await cancelExecution(app, caller(ctx), params.id));
    },
  );

  // the workers' door: platform.operations.run (platform admins), decided by the policy before the body is looked at
  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/executions/:id/results',
      summary: 'Feed collected items into an execution (workers, admin only)',
      description:
        "Starts the execution if it is still requested (or retrying), records the batch (each item validated against the registry's " +
        'item schema for the workflow type; dedup key from the item), and completes the execution when done. Idempotent: a repeated ' +
        'batch_id is a no-op, an item the execution already has is counted once. A finished execution refuses new items (409).',
      tags: ['workflows', 'admin'],
      auth: true,
      permission: 'platform.operations.run',
      request: { params: idParams, body: resultsBody },
      responses: { 200: { description: 'recorded', schema: resultsSchema } },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => {
      const user = currentUser(ctx);
      const outcome = await recordResults(app, commandContext(ctx, user.id), params.id, {
        workerId: body.worker_id,
        batchId: body.batch_id,
        ...(body.kind !== undefined ? { kind: body.kind } : {}),
        items: body.items,
        ...(body.cursor !== undefined ? { cursor: body.cursor } : {}),
        done: body.done,
      });
      commandResult(ctx, outcome, {
        extra: {
          execution_id: params.id,
          status: outcome.status,
          attempt: outcome.attempt,
          item_count: outcome.itemCount,
          accepted: outcome.accepted,
          duplicates: outcome.duplicates,
        },
      });
    },
  );

  // ---- one workflow

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id',
      summary: 'One of my workflows',
      description: 'ETag: the revision to send as If-Match to PUT.',
      tags: ['workflows'],
      auth: true,
      permission: 'collection.workflows.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the workflow', schema: workflowSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      await awaitPosition(ctx, knex, WORKFLOWS_PROJECTION);
      const found = await findWorkflow(knex, accessOf(ctx).ownerIds, params.id);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'workflow not found');
      ctx.set('ETag', `"${found.revision}"`);
      return found;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/:id',
      summary: 'Change one of my workflows',
      description:
        'Any of name, config, platform_account_id, schedule, proxy_region (absent: unchanged; null account, schedule or region: none). A new ' +
        'account is checked first, then the result against the current plan, like a create (404 / 422 / 409, then 403 / 429). If-Match: the ' +
        'revision from an ETag (412 when stale).',
      tags: ['workflows'],
      auth: true,
      permission: 'collection.workflows.edit',
      ifMatch: true,
      request: { params: idParams, body: updateBody },
      responses: { 200: { description: 'changed', schema: commandResultSchema } },
      errors: [403, 404, 409, 429],
    },
    async ({ params, body }, ctx) => {
      const result = await updateWorkflow(
        app,
        caller(ctx),
        params.id,
        {
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.config !== undefined ? { config: body.config } : {}),
          ...(body.platform_account_id !== undefined ? { platformAccountId: body.platform_account_id } : {}),
          ...(body.schedule !== undefined ? { schedule: body.schedule } : {}),
          ...(body.proxy_region !== undefined ? { proxyRegion: body.proxy_region } : {}),
        },
        ifMatchRevision(ctx),
      );
      commandResult(ctx, result);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/:id',
      summary: 'Delete one of my workflows',
      description:
        'Final. Frees its automation_workflows slot (xiaohongshu). Deleting it again changes nothing. If-Match: the revision from an ETag ' +
        '(412 when the workflow moved on since).',
      tags: ['workflows'],
      auth: true,
      permission: 'collection.workflows.delete',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'deleted', schema: commandResultSchema } },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      commandResult(ctx, await deleteWorkflow(app, caller(ctx), params.id, ifMatchRevision(ctx)));
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/:id/pause',
      summary: 'Pause one of my workflows',
      description: 'Its schedule stops running until resumed. Already paused by the user: no change.',
      tags: ['workflows'],
      auth: true,
      permission: 'collection.workflows.edit',
      request: { params: idParams },
      responses: { 200: { description: 'paused', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      commandResult(ctx, await pauseWorkflow(app, caller(ctx), params.id));
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/:id/resume',
      summary: 'Resume one of my workflows',
      description: "Lifts every pause (the user's, and the quota or account pauses of the system). Not paused: no change.",
      tags: ['workflows'],
      auth: true,
      permission: 'collection.workflows.edit',
      request: { params: idParams },
      responses: { 200: { description: 'resumed', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      commandResult(ctx, await resumeWorkflow(app, caller(ctx), params.id));
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/:id/execute',
      summary: 'Run one of my workflows now',
      description:
        "Records a manual execution request with the workflow's config as it is now (a paused workflow: 409) and answers 202 with " +
        'the execution id. Quota consumption and dispatch to a worker are done by the execution process manager (pm-dispatch-executions), ' +
        'which may still reject the execution (e.g. QUOTA_EXCEEDED): follow it with GET /workflows/executions/{id}.',
      tags: ['workflows'],
      auth: true,
      permission: 'collection.workflows.run',
      scope: 'collect',
      request: { params: idParams },
      responses: { 202: { description: 'requested', schema: commandResultSchema.extend({ execution_id: z.string() }) } },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      const requested = await requestExecution(app, caller(ctx), params.id);
      ctx.set('Location', `/api/v1/workflows/executions/${requested.executionId}`);
      commandResult(ctx, requested, { status: 202, extra: { execution_id: requested.executionId } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id/executions',
      summary: 'Executions of one of my workflows',
      description: 'Newest first.',
      tags: ['workflows'],
      auth: true,
      permission: 'collection.executions.view',
      request: { params: idParams, query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of executions', schema: pageSchema(executionSchema) } },
      errors: [404],
    },
    async ({ params, query }, ctx) => {
      await awaitPosition(ctx, knex, WORKFLOWS_PROJECTION);
      const owners = accessOf(ctx).ownerIds;
      if (!(await findWorkflow(knex, owners, params.id))) throw new HttpError(404, 'NOT_FOUND', 'workflow not found');
      return listExecutions(knex, owners, params.id, query);
    },
  );

  return router;
}
