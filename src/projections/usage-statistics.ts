import type { Knex } from 'knex';
import { quotaDay } from '../application/quota-day.js';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { outgoingMessageEvents } from '../write-model/outgoing-message/events.js';
import { paymentOrderEvents } from '../write-model/payment-order/events.js';
import { proxyEvents } from '../write-model/proxy/events.js';
import { publicationEvents } from '../write-model/publication/events.js';
import { smsMessageEvents } from '../write-model/sms-message/events.js';
import type { StatisticsMetric } from '../write-model/statistics-export/catalogue.js';
import { workflowExecutionEvents } from '../write-model/workflow-execution/events.js';
import { ITEMS_COUNTED, itemsCounted } from './items-collected-reads.js';
import { DEFAULT_USAGE_TIME_ZONE } from './proxy-usage.js';
import { patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Usage statistics (docs/statistics.md): integer counters per owner, bucket,
 * platform, country, platform account, workflow, channel and metric, in
 * `usage_statistics_daily` (days in QUOTA_TIME_ZONE) and
 * `usage_statistics_hourly` (UTC hours, the last HOURLY_WINDOW_HOURS kept).
 * '' stands for a dimension that does not apply or is not known.
 *
 * What counts (channel in brackets), each on the event's own time:
 * - collection: runs_requested (ExecutionRequested), runs_rejected,
 *   runs_completed, runs_failed, items_collected (the items of each
 *   ItemsCollected); platform, account, workflow of the run; country: the
 *   country of the proxy the run was last assigned (ProxyRegistered's), before
 *   any assignment the workflow's proxy region when it is a country code;
 * - publishing: publications_published, publications_failed; platform, account;
 * - sms: sms_requested, sms_sent, sms_delivered, sms_undelivered, sms_failed,
 *   and sms_segments (the segments of each message sent); country: the
 *   destination's (times: when we recorded the provider's answer or receipt);
 * - private_message: messages_sent, messages_failed; platform, account;
 * - the payment provider (alipay, wechat): payments_succeeded,
 *   payment_amount_fen; platform: the service paid for.
 *
 * Events that do not repeat their owner or dimensions take them from
 * `usage_statistics_subjects`, one row per counted stream, which also holds
 * the last revision applied: an event at or below it is not counted again
 * (a redelivered batch changes nothing). Proxies' countries come from this
 * consumer's own `usage_statistics_proxies` (a consumer never reads
 * another's tables).
 *
 * A batch is folded in memory and written set-based: the new and changed
 * subjects, the proxies, one upsert adding to the daily rows, one to the
 * hourly rows, and one delete of the hours that left the window (cut at
 * the newest event's commit time less the window, so a rebuild ends with the
 * same window as the live tables).
 */
export const USAGE_STATISTICS_PROJECTION = 'usage-statistics-v1';

/** Hourly counters kept: two days, so the last 24 hours are always whole. */
export const HOURLY_WINDOW_HOURS = 48;
const HOUR_MS = 3_600_000;
const SEP = '\u0000';

const PREFIXES = ['workflow_execution-', 'publication-', 'sms_message-', 'outgoing_message-', 'payment-', 'proxy-'] as const;
const TYPES = [
  'ExecutionRequested',
  'ExecutionRejected',
  'ProxyAssigned',
  'ItemsCollected',
  'ExecutionCompleted',
  'ExecutionFailed',
  'PublicationPublished',
  'PublicationFailed',
  'SmsRequested',
  'SmsSent',
  'SmsDelivered',
  'SmsUndelivered',
  'SmsFailed',
  'MessageSendRequested',
  'MessageSent',
  'MessageSendFailed',
  'PaymentSucceeded',
  'ProxyRegistered',
] as const;
const KNOWN = new Set<string>(TYPES);

export interface UsageStatisticsProjectionOptions {
  name?: string;
  /** config QUOTA_TIME_ZONE: the days of the daily rollups */
  timeZone?: string;
}

export function createUsageStatisticsProjection(options: UsageStatisticsProjectionOptions = {}): Consumer {
  const timeZone = options.timeZone ?? DEFAULT_USAGE_TIME_ZONE;
  return {
    name: options.name ?? USAGE_STATISTICS_PROJECTION,
    filter: { streamPrefixes: PREFIXES, eventTypes: TYPES },
    // a rebuild reads ItemsCollected as its count of items
    rebuildData: { ItemsCollected: ITEMS_COUNTED },
    async handle(events, { tx }) {
      await applyEvents(tx, events, timeZone);
    },
  };
}

export const usageStatisticsProjection: Consumer = createUsageStatisticsProjection();

interface Subject {
  row: { id: string; user_id: string; platform: string; country: string; account_id: string; workflow_id: string; units: number };
  revision: bigint;
  isNew: boolean;
  changed: boolean;
}

type Counter = {
  user_id: string;
  platform: string;
  country: string;
  account_id: string;
  workflow_id: string;
  channel: string;
  metric: StatisticsMetric;
  value: number;
};

const COUNTRY = /^[A-Z]{2}$/;
const countryOf = (code: string | null | undefined): string => (code && COUNTRY.test(code.toUpperCase()) ? code.toUpperCase() : '');
const hourOf = (ms: number): string => new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString();

async function applyEvents(tx: Knex.Transaction, events: readonly RecordedEvent[], timeZone: string): Promise<void> {
  const wanted = events.filter((e) => KNOWN.has(e.type) && PREFIXES.some((p) => e.streamName.startsWith(p)));
  if (wanted.length === 0) return;

  // the window's cut: the newest commit time of the batch less the window (never an event's own, possibly foreign, time)
  const newest = Math.max(...wanted.map((e) => e.created.getTime()));
  const cutoffMs = Math.floor(newest / HOUR_MS) * HOUR_MS - (HOURLY_WINDOW_HOURS - 1) * HOUR_MS;

  const subjectIds = [...new Set(wanted.filter((e) => !e.streamName.startsWith('proxy-')).map((e) => e.streamName))];
  const current = await selectRows<Subject['row'] & { last_revision: string }>(
    tx,
    'usage_statistics_subjects',
    subjectIds.map((id) => ({ id })),
    { key: ['id'], columns: ['id', 'user_id', 'platform', 'country', 'account_id', 'workflow_id', 'units', 'last_revision'], forUpdate: true },
  );
  const subjects = new Map<string, Subject>(
    current.map(({ last_revision, ...row }) => [
      row.id,
      { row: { ...row, units: Number(row.units) }, revision: BigInt(last_revision), isNew: false, changed: false },
    ]),
  );

  // proxies: registered in this batch, else as this consumer recorded them
  const proxies = new Map<string, string>();
  const newProxies: Row[] = [];
  const assigned = new Set<string>();
  for (const e of wanted) {
    if (e.type === 'ProxyRegistered') {
      const d = proxyEvents.decode(e);
      if (d.type === 'ProxyRegistered') {
        proxies.set(d.data.proxyId, countryOf(d.data.country));
        newProxies.push({ proxy_id: d.data.proxyId, country: countryOf(d.data.country) });
      }
    } else if (e.type === 'ProxyAssigned') assigned.add(String((e.data as { proxyId?: unknown }).proxyId));
  }
  const unknownProxies = [...assigned].filter((id) => !proxies.has(id));
  for (const r of await selectRows<{ proxy_id: string; country: string }>(
    tx,
    'usage_statistics_proxies',
    unknownProxies.map((proxy_id) => ({ proxy_id })),
    { key: ['proxy_id'], columns: ['proxy_id', 'country'] },
  ))
    proxies.set(r.proxy_id, r.country);

  const daily = new Map<string, Counter & { day: string }>();
  const hourly = new Map<string, Counter & { hour: string }>();
  const count = (s: Subject, channel: string, metric: StatisticsMetric, at: string, value = 1) => {
    if (value === 0 || s.row.user_id === '') return;
    const ms = Date.parse(at);
    if (Number.isNaN(ms)) return;
    // called for nearly every event: the key is concatenated, not joined from an array of a spread copy
    const r = s.row;
    const key = `${r.user_id}${SEP}${r.platform}${SEP}${r.country}${SEP}${r.account_id}${SEP}${r.workflow_id}${SEP}${channel}${SEP}${metric}`;
    const day = quotaDay(new Date(ms), timeZone).day;
    const dayKey = `${day}${SEP}${key}`;
    const d = daily.get(dayKey);
    if (d) d.value += value;
    else {
      const { user_id, platform, country, account_id, workflow_id } = r;
      daily.set(dayKey, { user_id, day, platform, country, account_id, workflow_id, channel, metric, value });
    }
    if (ms < cutoffMs) return; // already out of the live window
    const hour = hourOf(ms);
    const hourKey = `${hour}${SEP}${key}`;
    const h = hourly.get(hourKey);
    if (h) h.value += value;
    else {
      const { user_id, platform, country, account_id, workflow_id } = r;
      hourly.set(hourKey, { user_id, hour, platform, country, account_id, workflow_id, channel, metric, value });
    }
  };

  /** The stream's subject: as recorded, or started from what this event says. */
  const subjectOf = (id: string, seed: Partial<Subject['row']>): Subject => {
    let s = subjects.get(id);
    if (!s) {
      s = {
        row: { id, user_id: '', platform: '', country: '', account_id: '', workflow_id: '', units: 0, ...seed },
        revision: -1n,
        isNew: true,
        changed: true,
      };
      subjects.set(id, s);
    }
    return s;
  };

  for (const e of wanted) {
    if (e.type === 'ProxyRegistered') continue;
    const seen = subjects.get(e.streamName);
    if (seen && e.revision <= seen.revision) continue; // applied already
    if (e.type === 'ItemsCollected' && e.streamName.startsWith('workflow_execution-')) {
      const d = itemsCounted(e);
      const s = subjectOf(e.streamName, { user_id: d.ownerId, platform: d.platform, account_id: d.platformAccountId ?? '', workflow_id: d.workflowId });
      count(s, 'collection', 'items_collected', d.collectedAt, d.batchItemCount);
    } else if (e.streamName.startsWith('workflow_execution-')) {
      const ev = workflowExecutionEvents.decode(e);
      switch (ev.type) {
        case 'ExecutionRequested': {
          const d = ev.data;
          const s = subjectOf(e.streamName, {
            user_id: d.ownerId,
            platform: d.platform,
            country: countryOf(d.proxyRegion),
            account_id: d.platformAccountId ?? '',
            workflow_id: d.workflowId,
          });
          count(s, 'collection', 'runs_requested', d.requestedAt);
          break;
        }
        case 'ExecutionRejected':
          count(subjectOf(e.streamName, { user_id: ev.data.ownerId, workflow_id: ev.data.workflowId }), 'collection', 'runs_rejected', ev.data.rejectedAt);
          break;
        case 'ProxyAssigned': {
          const s = subjectOf(e.streamName, { workflow_id: ev.data.workflowId });
          const country = proxies.get(ev.data.proxyId);
          if (country) s.row.country = country;
          break;
        }
        case 'ExecutionCompleted':
          count(subjectOf(e.streamName, { user_id: ev.data.ownerId, workflow_id: ev.data.workflowId }), 'collection', 'runs_completed', ev.data.completedAt);
          break;
        case 'ExecutionFailed':
          count(subjectOf(e.streamName, { user_id: ev.data.ownerId, workflow_id: ev.data.workflowId }), 'collection', 'runs_failed', ev.data.failedAt);
          break;
        default:
          break;
      }
    } else if (e.streamName.startsWith('publication-')) {
      const ev = publicationEvents.decode(e);
      const d = ev.data;
      const s = subjectOf(e.streamName, { user_id: d.ownerId, platform: d.platform, account_id: d.accountId });
      if (ev.type === 'PublicationPublished') count(s, 'publishing', 'publications_published', ev.data.recordedAt);
      else if (ev.type === 'PublicationFailed') count(s, 'publishing', 'publications_failed', ev.data.failedAt);
    } else if (e.streamName.startsWith('sms_message-')) {
      const ev = smsMessageEvents.decode(e);
      const s = subjectOf(e.streamName, { user_id: ev.data.ownerId });
      switch (ev.type) {
        case 'SmsRequested':
          s.row.country = countryOf(ev.data.country);
          s.row.units = ev.data.segments;
          count(s, 'sms', 'sms_requested', ev.data.requestedAt);
          break;
        case 'SmsSent':
          count(s, 'sms', 'sms_sent', ev.data.recordedAt);
          count(s, 'sms', 'sms_segments', ev.data.recordedAt, s.row.units);
          break;
        case 'SmsDelivered':
          count(s, 'sms', 'sms_delivered', ev.data.recordedAt);
          break;
        case 'SmsUndelivered':
          count(s, 'sms', 'sms_undelivered', ev.data.recordedAt);
          break;
        case 'SmsFailed':
          count(s, 'sms', 'sms_failed', ev.data.failedAt);
          break;
      }
    } else if (e.streamName.startsWith('outgoing_message-')) {
      const ev = outgoingMessageEvents.decode(e);
      const d = ev.data;
      const s = subjectOf(e.streamName, { user_id: d.ownerId, account_id: d.platformAccountId });
      if (ev.type === 'MessageSendRequested') s.row.platform = ev.data.platform;
      else if (ev.type === 'MessageSent') count(s, 'private_message', 'messages_sent', ev.data.recordedAt);
      else if (ev.type === 'MessageSendFailed') count(s, 'private_message', 'messages_failed', ev.data.failedAt);
    } else if (e.streamName.startsWith('payment-')) {
      const ev = paymentOrderEvents.decode(e);
      if (ev.type !== 'PaymentSucceeded') continue;
      const d = ev.data;
      const s = subjectOf(e.streamName, { user_id: d.userId, platform: d.service });
      count(s, d.provider, 'payments_succeeded', d.paidAt);
      count(s, d.provider, 'payment_amount_fen', d.paidAt, d.amountFen);
    } else continue;
    const s = subjects.get(e.streamName);
    if (s) {
      s.revision = e.revision;
      s.changed = true;
    }
  }

  const inserts: Row[] = [];
  const patches: Row[] = [];
  for (const s of subjects.values()) {
    if (!s.changed || s.revision < 0n) continue;
    const row = { ...s.row, last_revision: s.revision.toString() };
    if (s.isNew) inserts.push(row);
    else patches.push(row);
  }
  await upsertRows(tx, 'usage_statistics_subjects', inserts, { conflict: ['id'] });
  await patchRows(tx, 'usage_statistics_subjects', patches, { key: ['id'], guard: 't.last_revision < n.last_revision' });
  await upsertRows(tx, 'usage_statistics_proxies', dedupe(newProxies, 'proxy_id'), { conflict: ['proxy_id'] });
  const key = ['platform', 'country', 'account_id', 'workflow_id', 'channel', 'metric'];
  await upsertRows(tx, 'usage_statistics_daily', [...daily.values()], {
    conflict: ['user_id', 'day', ...key],
    update: { value: 't.value + excluded.value' },
  });
  await upsertRows(tx, 'usage_statistics_hourly', [...hourly.values()], {
    conflict: ['user_id', 'hour', ...key],
    update: { value: 't.value + excluded.value' },
  });
  await tx.raw('DELETE FROM usage_statistics_hourly WHERE hour < ?', [new Date(cutoffMs).toISOString()]);
}

function dedupe(rows: Row[], key: string): Row[] {
  return [...new Map(rows.map((r) => [r[key], r])).values()];
}
