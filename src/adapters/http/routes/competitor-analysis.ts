import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { calendarDaySchema, periodStart } from '../calendar-day.js';
import { addDays } from '../../../application/quota-day.js';
import { requireFeature } from '../../../application/plan-gates.js';
import { currentPlan } from '../../../application/subscription-quotas.js';
import type { EventStore } from '../../../event-store/port.js';
import { QIDIAN_DATA_PROJECTION, qidianDay } from '../../../projections/qidian-data.js';
import type { Period } from '../../../read-api/qidian-analytics.js';
import { competitorAnalysis, PEER_SORTS } from '../../../read-api/qidian-competitors.js';
import { allowsRanking, QIDIAN_RANKINGS } from '../../../write-model/subscription/plans.js';
import { currentUser } from '../authenticate.js';
import { accessOf } from '../access.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { rangeError } from '../error-mapping.js';
import { HttpError } from '../http-error.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import type { AppState } from '../state.js';
import { decimalInteger } from '../query.js';

export interface CompetitorAnalysisRouteDeps {
  store: EventStore;
  knex: Knex;
  /** the clock (tests) */
  now?: () => Date;
}

const DAY_MS = 86_400_000;
export const MAX_COMPETITOR_DAYS = 365;
export const MAX_TOP_PEERS = 50;
const DEFAULT_DAYS = 30;

const DAY = calendarDaySchema;

const metricSchema = z.object({
  metric: z.string().describe('word_count, chapters, collections, monthly_tickets, <figure>_weekly_growth, or best_rank:<board>'),
  ranking: z.string().nullable().describe('the board of a best_rank metric'),
  lower_is_better: z.boolean().describe('true for ranks'),
  value: z.number().nullable().describe("the novel's value; null: it has none in the period"),
  peers: z.number().int().describe('peers with a value'),
  median: z.number().nullable(),
  p25: z.number().nullable(),
  p75: z.number().nullable(),
  percentile: z.number().nullable().describe('0–100: the share of those peers the novel beats (ties count half)'),
  rank: z.number().int().nullable().describe('1 = best among the novel and those peers'),
  of: z.number().int(),
});

const peerSchema = z.object({
  novel_id: z.string(),
  title: z.string(),
  author: z.string(),
  sub_category: z.string().nullable(),
  word_count: z.number().nullable(),
  chapters: z.number().nullable(),
  collections: z.number().nullable(),
  monthly_tickets: z.number().nullable(),
  word_count_weekly_growth: z.number().nullable(),
  chapters_weekly_growth: z.number().nullable(),
  collections_weekly_growth: z.number().nullable(),
  monthly_tickets_weekly_growth: z.number().nullable(),
  best_rank: z.object({ ranking: z.string(), rank: z.number().int() }).nullable(),
});

const competitorSchema = z.object({
  novel: z.object({
    novel_id: z.string(),
    title: z.string(),
    author: z.string(),
    category: z.string(),
    sub_category: z.string().nullable(),
    last_captured_at: z.string(),
  }),
  from: z.string(),
  to: z.string(),
  days: z.number().int(),
  peer_group: z.object({
    category: z.string(),
    sub_category: z.string().nullable(),
    level: z.enum(['category', 'sub_category']),
    peers: z.number().int().describe('novels of the group in the period, besides this one'),
  }),
  metrics: z.array(metricSchema),
  top_peers: z.array(peerSchema),
  sort: z.enum(PEER_SORTS),
});

function invalidQuery(path: string, message: string): HttpError {
  return new HttpError(422, 'VALIDATION_ERROR', message, { issues: [{ in: 'query', path: [path], message, code: 'custom' }] });
}

/** The period from `days` or `from`/`to` (Qidian days, both included), as the market and author analytics take it. */
function period(query: { days?: number; from?: string; to?: string }, today: string): Period {
  if (query.days !== undefined && (query.from !== undefined || query.to !== undefined)) throw invalidQuery('days', 'give either days or from/to, not both');
  if (query.from === undefined && query.to === undefined) return { from: addDays(today, -((query.days ?? DEFAULT_DAYS) - 1)), to: today };
  const to = query.to ?? today;
  const from = query.from ?? periodStart(to, DEFAULT_DAYS);
  if (from > to) throw rangeError();
  const span = Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
  if (span > MAX_COMPETITOR_DAYS) throw invalidQuery('from', `the period is ${span} days; at most ${MAX_COMPETITOR_DAYS}`);
  return { from, to };
}

/**
 * `GET /api/v1/qidian/analytics/competitors/{novel_id}`: the plan feature
 * competitor_analysis (qidian pro and enterprise). A router of its own
 * (mounted in src/api-app.ts), over the `qidian-data-v1` read model like the
 * market and author analytics (src/read-api/qidian-competitors.ts).
 */
export function competitorAnalysisRouter(api: HttpApi, deps: CompetitorAnalysisRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/qidian/analytics' });
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/competitors/:novel_id',
      summary: 'Competitor analysis: a novel against its peers',
      description:
        'A novel against its peers: the other novels of its category — and of its sub-category when a board entry shows it (`level=category` ' +
        "compares with the whole category) — in the collected data of the caller's data scope (novel snapshots and board entries captured within retention " +
        `and in the period: \`days\`, default ${DEFAULT_DAYS}, or \`from\`/\`to\`, Qidian days, at most ${MAX_COMPETITOR_DAYS}). Per metric — word_count, ` +
        'chapters, collections, monthly_tickets (at the last snapshot of the period), their weekly growth (last − first snapshot of the ' +
        'period per 7 days between them; null with one snapshot or two less than a day apart), and best_rank:<board> (the best rank on each ' +
        "board the plan's ranking_access allows; lower is better) — the novel's value, the peers' median, p25 and p75, the novel's percentile " +
        `among the peers and its rank; and the top \`limit\` peers (default 10, at most ${MAX_TOP_PEERS}) by \`sort\` (default collections). ` +
        '404 when the caller has no data of the novel within retention. Needs the plan feature competitor_analysis (403 PERMISSION_DENIED, ' +
        'details.feature = competitor_analysis) — pro and enterprise.',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
      errors: [403, 404],
      request: {
        params: z.object({ novel_id: z.string().regex(/^\d{1,20}$/, 'a Qidian book id is digits') }),
        query: z
          .object({
            days: decimalInteger({ min: 1, max: MAX_COMPETITOR_DAYS }).optional().describe('the last `days` Qidian days, today included (not with from/to)'),
            from: DAY.optional().describe('first Qidian day (Asia/Shanghai)'),
            to: DAY.optional().describe('last Qidian day, included; default: today'),
            level: z.enum(['auto', 'category']).default('auto').describe('auto: by sub-category when known, else category'),
            sort: z.enum(PEER_SORTS).default('collections').describe('the metric the top peers are ordered by (descending)'),
            limit: decimalInteger({ min: 1, max: MAX_TOP_PEERS }).default(10),
          })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'the novel against its peers', schema: competitorSchema } },
    },
    async ({ params, query }, ctx) => {
      const user = currentUser(ctx);
      const now = clock();
      const p = period(query, qidianDay(now));
      const plan = await currentPlan(store, user.id, 'qidian');
      requireFeature(plan, 'competitor_analysis');
      const since = new Date(now.getTime() - plan.features.data_retention_days * DAY_MS);
      const boards = QIDIAN_RANKINGS.filter((r) => allowsRanking(plan, r));
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      const found = await competitorAnalysis(knex, accessOf(ctx).ownerIds, params.novel_id, {
        since,
        period: p,
        boards,
        level: query.level,
        limit: query.limit,
        sort: query.sort,
      });
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'no data of this novel');
      return found;
    },
  );

  return router;
}
