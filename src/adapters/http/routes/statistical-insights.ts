import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { quotaDay } from '../../../application/quota-day.js';
import { requireFeature } from '../../../application/plan-gates.js';
import type { EventStore } from '../../../event-store/port.js';
import { XIAOHONGSHU_CONTENT_PROJECTION } from '../../../projections/xiaohongshu-content.js';
import { retentionFor } from '../../../read-api/retention.js';
import { ANOMALY_THRESHOLD, insights, MIN_AUTHOR_NOTES } from '../../../read-api/xiaohongshu-insights.js';
import { currentUser } from '../authenticate.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import type { AppState } from '../state.js';
import { decimalInteger } from '../query.js';

export interface StatisticalInsightsRouteDeps {
  store: EventStore;
  knex: Knex;
  /** config QUOTA_TIME_ZONE: the days of the series */
  timeZone: string;
  /** the clock (tests) */
  now?: () => Date;
}

export const MAX_INSIGHT_DAYS = 365;
export const MAX_INSIGHT_LIST = 50;

const point = z.object({ day: z.string(), notes: z.number().int(), engagement: z.number().int() });
const anomaly = z.object({
  day: z.string(),
  metric: z.enum(['notes', 'engagement']),
  value: z.number(),
  median: z.number().describe("the series' median"),
  score: z.number().describe('robust z-score: (value − median) / (1.4826 · MAD)'),
  direction: z.enum(['spike', 'drop']),
});
const trend = z.object({
  slope: z.number().describe('least-squares slope of the notes per day (notes per day, per day)'),
  engagement_slope: z.number(),
  first_half_notes: z.number().int(),
  second_half_notes: z.number().int(),
  change: z.number().int().describe('second half − first half'),
  change_ratio: z.number().nullable().describe('change / first half; null when the first half had none'),
});
const termSeries = z.object({
  term: z.string(),
  notes: z.number().int(),
  engagement: z.number().int(),
  trend,
  series: z.array(point),
  anomalies: z.array(anomaly),
});
const termMove = z.object({ term: z.string(), notes: z.number().int(), engagement: z.number().int(), trend });

const insightsSchema = z.object({
  from: z.string(),
  to: z.string(),
  days: z.number().int(),
  time_zone: z.string(),
  retention_days: z.number().int(),
  method: z
    .object({ trend: z.string(), anomaly: z.string(), keywords: z.string(), threshold: z.number() })
    .describe('how each figure is computed (plain statistics)'),
  overall: z.object({ notes: z.number().int(), engagement: z.number().int(), trend, series: z.array(point), anomalies: z.array(anomaly) }),
  tags: z.array(termSeries).describe('the most frequent tags of the period, with their daily series'),
  keywords: z.array(termSeries).describe('the most frequent title keywords (CJK bigrams, Latin words)'),
  rising_tags: z.array(termMove),
  falling_tags: z.array(termMove),
  rising_keywords: z.array(termMove),
  falling_keywords: z.array(termMove),
  unusual_notes: z.array(
    z.object({
      note_id: z.string(),
      title: z.string(),
      author_id: z.string(),
      author_name: z.string(),
      day: z.string(),
      engagement: z.number().int(),
      author_notes: z.number().int(),
      author_median: z.number(),
      score: z.number(),
      direction: z.enum(['high', 'low']),
    }),
  ),
});

/**
 * `GET /api/v1/xiaohongshu/analytics/insights`: the plan feature ai_insights
 * (xiaohongshu pro and enterprise), served as what it is — statistical
 * insights: counts, least-squares trends, median/MAD anomalies over the
 * caller's collected notes (src/read-api/xiaohongshu-insights.ts). A router
 * of its own, mounted in src/api-app.ts.
 */
export function statisticalInsightsRouter(api: HttpApi, deps: StatisticalInsightsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/xiaohongshu/analytics' });
  const { store, knex, timeZone } = deps;
  const clock = () => deps.now?.() ?? new Date();

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/insights',
      summary: 'Statistical insights: tag and keyword trends and anomalies of my collected notes',
      description:
        `Over my collected notes (within retention) of the last \`days\` days (default 30, at most ${MAX_INSIGHT_DAYS}; today included, days in ` +
        "QUOTA_TIME_ZONE; a note's day is its publish day, or its first collection when unknown; engagement = likes + comments + collects + " +
        'shares at its latest collection). Plain statistics, no learned model: per tag and per title keyword (CJK character bigrams and Latin ' +
        'words of the titles, once per note) the daily notes and engagement, the trend (least-squares slope; first half of the period against ' +
        `the second) and the anomalous days (robust z-score beyond ±${ANOMALY_THRESHOLD}: outside median ± ${ANOMALY_THRESHOLD} · 1.4826 · MAD); ` +
        'the same for all notes (`overall`); the rising and falling tags and keywords (by slope, the halves agreeing); and the notes whose ' +
        `engagement is unusual for their author (robust z-score against the author's notes of the period, authors with ${MIN_AUTHOR_NOTES}+ notes). ` +
        `Lists hold at most \`limit\` (default 10, at most ${MAX_INSIGHT_LIST}); a tag or keyword needs \`min_notes\` notes (default 2). ` +
        'Needs the plan feature ai_insights (403 PERMISSION_DENIED, details.feature = ai_insights) — pro and enterprise.',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.data.view',
      errors: [403],
      request: {
        query: z
          .object({
            days: decimalInteger({ min: 1, max: MAX_INSIGHT_DAYS }).default(30),
            limit: decimalInteger({ min: 1, max: MAX_INSIGHT_LIST }).default(10),
            min_notes: decimalInteger({ min: 1, max: 1000 }).default(2),
          })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'the statistical insights of the period', schema: insightsSchema } },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      const now = clock();
      const retention = await retentionFor(store, user.id, 'xiaohongshu', now);
      requireFeature(retention.plan, 'ai_insights');
      await awaitPosition(ctx, knex, XIAOHONGSHU_CONTENT_PROJECTION);
      return insights(
        knex,
        { ownerId: user.id, cutoff: retention.cutoff, timeZone, retentionDays: retention.days },
        { today: quotaDay(now, timeZone).day, days: query.days, limit: query.limit, minNotes: query.min_notes },
      );
    },
  );

  return router;
}
