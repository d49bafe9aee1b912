import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Actor } from '../../../application/review/policy.js';
import {
  addReviewRule,
  changeReviewRule,
  findReviewRule,
  removeReviewRule,
  scopeFor,
  testReviewRules,
  type RuleInput,
} from '../../../application/review/rules.js';
import type { EventStore } from '../../../event-store/port.js';
import { REVIEW_RULES_PROJECTION } from '../../../projections/reviews.js';
import { listReviewRules } from '../../../read-api/reviews.js';
import {
  CONTACT_TYPES,
  LENGTH_FIELDS,
  MAX_ALLOWED_DOMAINS,
  MAX_PHRASE_LENGTH,
  MAX_PHRASES_PER_RULE,
  MAX_RULE_NAME,
  MAX_RULE_TARGETS,
  RED_LINE_CATEGORIES,
  RULE_KINDS,
  type ReviewRule,
  type ReviewRuleParams,
} from '../../../write-model/review-rules/events.js';
import { HIT_FIELDS, type ReviewHit } from '../../../write-model/review/events.js';
import { policyActor } from '../access.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

/**
 * Content-review rules (`/api/v1/review-rules`): the platform's set (admins
 * change it, reviewers read it) and an enterprise tenant's own set (`mine`),
 * applied by the automatic pre-review of every publication; and the dry run,
 * `POST /review-rules/test`, with which any author checks a text before
 * publishing it. Permissions: src/application/review/policy.ts.
 */

export interface ReviewRuleRouteDeps {
  store: EventStore;
  knex: Knex;
  now?: () => Date;
}

const SCOPES = ['platform', 'mine'] as const;

const paramsSchema = z
  .object({
    field: z.enum(LENGTH_FIELDS).optional().describe('length: the field measured'),
    min: z.number().int().min(0).nullable().optional().describe('length: fewest characters; image: fewest images'),
    max: z.number().int().min(0).nullable().optional().describe('length: most characters; image: most images'),
    allowed_domains: z
      .array(z.string().min(1).max(253))
      .max(MAX_ALLOWED_DOMAINS)
      .optional()
      .describe('link: domains (with their subdomains) links may point to; empty: every link is a hit'),
    contact_types: z.array(z.enum(CONTACT_TYPES)).optional().describe('contact: the kinds looked for; empty: all'),
  })
  .strict();

const ruleFields = {
  kind: z.enum(RULE_KINDS).describe('banned_phrase, red_line (phrases of a category), contact, link, length or image'),
  name: z.string().trim().min(1).max(MAX_RULE_NAME),
  phrases: z
    .array(z.string().max(MAX_PHRASE_LENGTH))
    .max(MAX_PHRASES_PER_RULE)
    .optional()
    .describe('banned_phrase and red_line: the phrases, matched case-insensitively after NFKC normalization, invisible characters ignored'),
  category: z.enum(RED_LINE_CATEGORIES).nullable().optional().describe('red_line: required; banned_phrase: optional'),
  platforms: z.array(z.string().min(1).max(40)).max(MAX_RULE_TARGETS).optional().describe('platform ids the rule applies to; empty or left out: all'),
  regions: z.array(z.string().min(1).max(40)).max(MAX_RULE_TARGETS).optional().describe('region codes the rule applies to (e.g. CN); empty: all'),
  params: paramsSchema.optional(),
  enabled: z.boolean().optional().describe('default true'),
};

const createBody = z.object({ scope: z.enum(SCOPES).describe('platform (admins) or mine (enterprise plans)'), ...ruleFields }).strict();
const changeBody = z.object(ruleFields).strict();

const paramsView = z.object({
  field: z.enum(LENGTH_FIELDS).optional(),
  min: z.number().int().nullable().optional(),
  max: z.number().int().nullable().optional(),
  allowed_domains: z.array(z.string()).optional(),
  contact_types: z.array(z.enum(CONTACT_TYPES)).optional(),
});

const ruleSummarySchema = z.object({
  id: z.string(),
  scope: z.enum(SCOPES),
  kind: z.enum(RULE_KINDS),
  name: z.string(),
  category: z.enum(RED_LINE_CATEGORIES).nullable(),
  phrase_count: z.number().int(),
  platforms: z.array(z.string()),
  regions: z.array(z.string()),
  params: paramsView,
  enabled: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
  updated_by: z.string(),
});

const ruleSchema = z.object({
  id: z.string(),
  scope: z.enum(SCOPES),
  kind: z.enum(RULE_KINDS),
  name: z.string(),
  category: z.enum(RED_LINE_CATEGORIES).nullable(),
  phrases: z.array(z.string()),
  platforms: z.array(z.string()),
  regions: z.array(z.string()),
  params: paramsView,
  enabled: z.boolean(),
  revision: z.string().describe("the rule set stream's revision"),
});

export const hitSchema = z.object({
  rule_id: z.string(),
  rule_name: z.string(),
  kind: z.enum(RULE_KINDS),
  category: z.enum(RED_LINE_CATEGORIES).nullable(),
  field: z.enum(HIT_FIELDS),
  start: z.number().int().describe('UTF-16 offset into the field as written (tags: joined with a newline), inclusive'),
  end: z.number().int().describe('exclusive; length and image hits span the field, or nothing'),
  match: z.string().describe('the text found; for length and image rules, what was measured'),
});

const testBody = z
  .object({
    platform: z.string().trim().min(1).max(40).describe('the platform it would be published to'),
    region: z.string().trim().min(1).max(40).nullable().optional().describe('the region it would be published to; null: none'),
    title: z.string().max(500),
    summary: z.string().max(5_000).nullable().optional(),
    body: z.string().max(200_000),
    tags: z.array(z.string().max(100)).max(100).optional(),
    image_count: z.number().int().min(0).max(1_000).optional(),
  })
  .strict();

const idParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'a rule id is 1-100 letters, digits, _ and -') });

const commandSchema = z.object({ id: z.string(), scope: z.enum(SCOPES), revision: z.string(), position: z.string().nullable() });

const actorOf = (ctx: AppContext): Actor => policyActor(ctx);

function inputOf(body: z.output<typeof changeBody>): RuleInput {
  const p = body.params;
  const params: ReviewRuleParams | undefined = p
    ? {
        ...(p.field !== undefined ? { field: p.field } : {}),
        ...(p.min !== undefined ? { min: p.min } : {}),
        ...(p.max !== undefined ? { max: p.max } : {}),
        ...(p.allowed_domains !== undefined ? { allowedDomains: p.allowed_domains } : {}),
        ...(p.contact_types !== undefined ? { contactTypes: p.contact_types } : {}),
      }
    : undefined;
  return {
    kind: body.kind,
    name: body.name,
    phrases: body.phrases,
    category: body.category,
    platforms: body.platforms,
    regions: body.regions,
    params,
    enabled: body.enabled,
  };
}

export function paramsViewOf(params: ReviewRuleParams): z.input<typeof paramsView> {
  return {
    ...(params.field !== undefined ? { field: params.field } : {}),
    ...(params.min !== undefined ? { min: params.min } : {}),
    ...(params.max !== undefined ? { max: params.max } : {}),
    ...(params.allowedDomains !== undefined ? { allowed_domains: params.allowedDomains } : {}),
    ...(params.contactTypes !== undefined ? { contact_types: params.contactTypes } : {}),
  };
}

export function hitView(hit: ReviewHit): z.input<typeof hitSchema> {
  return {
    rule_id: hit.ruleId,
    rule_name: hit.ruleName,
    kind: hit.kind,
    category: hit.category,
    field: hit.field,
    start: hit.start,
    end: hit.end,
    match: hit.match,
  };
}

function ruleView(rule: ReviewRule, scope: 'platform' | 'mine', revision: bigint): z.input<typeof ruleSchema> {
  return {
    id: rule.ruleId,
    scope,
    kind: rule.kind,
    name: rule.name,
    category: rule.category,
    phrases: rule.phrases,
    platforms: rule.platforms,
    regions: rule.regions,
    params: paramsViewOf(rule.params),
    enabled: rule.enabled,
    revision: revision.toString(),
  };
}

const IF_MATCH =
  "If-Match takes the revision of the rule's set (GET /review-rules/{id}, or any change's answer): a change to another rule of the set makes it stale (412).";

const PERMISSIONS =
  'The platform set: platform reviewers and admins read it (platform.review-rules.view), platform admins change it (platform.review-rules.edit); ' +
  'otherwise 403 PERMISSION_DENIED, details.reason admin_role / reviewer_role. ' +
  'Your own set (mine): enterprise plans of either service (403, details.feature review_rules).';

export function reviewRulesRouter(api: HttpApi, deps: ReviewRuleRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/review-rules' });
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();
  const tags = ['review'];

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      summary: 'Review rules of a set',
      description: `The rules of the platform set (scope=platform) or my own (scope=mine), by name; phrases are counted here, listed by GET /review-rules/{id}. ${PERMISSIONS}`,
      tags,
      auth: true,
      permission: 'publishing.review-rules.view',
      request: { query: paginationQuery.extend({ scope: z.enum(SCOPES).default('mine') }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of rules', schema: pageSchema(ruleSummarySchema) } },
      errors: [403],
    },
    async ({ query }, ctx) => {
      const scope = await scopeFor(store, actorOf(ctx), query.scope, 'read');
      await awaitPosition(ctx, knex, REVIEW_RULES_PROJECTION);
      const page = await listReviewRules(knex, scope, query);
      return { ...page, items: page.items.map((rule) => ({ ...rule, params: paramsViewOf(rule.params) })) };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/',
      summary: 'Add a review rule',
      description:
        'One rule in the platform set or my own. banned_phrase and red_line rules hold phrases (red_line with a category of the closed list); ' +
        'contact rules find mobile and landline numbers, emails, QQ and WeChat ids; link rules find URLs and bare domains outside params.allowed_domains; ' +
        'length rules bound a field (params.field, min, max characters); image rules bound the image count. platforms and regions narrow where it ' +
        `applies. It counts from the next pre-review on. ${PERMISSIONS}`,
      tags,
      auth: true,
      permission: 'publishing.review-rules.create',
      request: { body: createBody },
      responses: { 201: { description: 'added', schema: commandSchema } },
      errors: [403],
    },
    async ({ body }, ctx) => {
      const actor = actorOf(ctx);
      const written = await addReviewRule({ store, actor, context: commandContext(ctx, actor.userId), now: clock() }, body.scope, inputOf(body));
      ctx.set('Location', `/api/v1/review-rules/${written.ruleId}`);
      commandResult(ctx, written, { status: 201, extra: { id: written.ruleId, scope: written.scope } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/test',
      summary: 'Check a text against the review rules (dry run)',
      description:
        'The automatic pre-review of my text exactly as a publication of mine to that platform and region would meet it (the platform set and, ' +
        'on an enterprise plan, my own): the verdict (pass or flag) and every hit with its field and its place in the text as written. Records nothing.',
      tags,
      auth: true,
      permission: 'publishing.review-rules.run',
      scope: 'read',
      idempotent: false,
      request: { body: testBody },
      responses: { 200: { description: 'the verdict', schema: z.object({ verdict: z.enum(['pass', 'flag']), hits: z.array(hitSchema) }) } },
    },
    async ({ body }, ctx) => {
      // the caller as an author: the sets applied are the platform's and their own, whatever their role
      const result = await testReviewRules(store, actorOf(ctx), {
        platform: body.platform,
        region: body.region ?? null,
        title: body.title,
        summary: body.summary ?? null,
        body: body.body,
        tags: body.tags ?? [],
        imageCount: body.image_count ?? 0,
      });
      return { verdict: result.verdict, hits: result.hits.map(hitView) };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id',
      summary: 'One review rule, with its phrases',
      description: `A rule of my own set, or (reviewers and admins) of the platform set; 404 for any other. ETag: its set's revision (If-Match of PUT and DELETE). ${PERMISSIONS}`,
      tags,
      auth: true,
      permission: 'publishing.review-rules.view',
      request: { params: idParams },
      responses: { 200: { description: 'the rule', schema: ruleSchema } },
      errors: [403, 404],
    },
    async ({ params }, ctx) => {
      const found = await findReviewRule(store, actorOf(ctx), params.id, 'read');
      ctx.set('ETag', `"${found.revision}"`);
      return ruleView(found.rule, found.scope, found.revision);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/:id',
      summary: 'Change a review rule',
      description:
        'The whole rule as it should stand (its kind never changes: 422). The same rule again changes nothing (200, position null). ' +
        `${IF_MATCH} ${PERMISSIONS}`,
      tags,
      auth: true,
      permission: 'publishing.review-rules.edit',
      ifMatch: true,
      request: { params: idParams, body: changeBody },
      responses: { 200: { description: 'changed', schema: commandSchema } },
      errors: [403, 404],
    },
    async ({ params, body }, ctx) => {
      const actor = actorOf(ctx);
      const expected = ifMatchRevision(ctx);
      const call = { store, actor, context: commandContext(ctx, actor.userId), now: clock() };
      const written = await changeReviewRule(call, params.id, inputOf(body), expected);
      commandResult(ctx, written, { extra: { id: written.ruleId, scope: written.scope } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/:id',
      summary: 'Remove a review rule',
      description: `It no longer applies from the next pre-review on; a rule already removed is 404. ${IF_MATCH} ${PERMISSIONS}`,
      tags,
      auth: true,
      permission: 'publishing.review-rules.delete',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'removed', schema: commandSchema } },
      errors: [403, 404],
    },
    async ({ params }, ctx) => {
      const actor = actorOf(ctx);
      const expected = ifMatchRevision(ctx);
      const written = await removeReviewRule({ store, actor, context: commandContext(ctx, actor.userId), now: clock() }, params.id, expected);
      commandResult(ctx, written, { extra: { id: written.ruleId, scope: written.scope } });
    },
  );

  return router;
}
