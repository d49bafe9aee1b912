import type { EventStore, RecordedEvent } from '../../src/event-store/port.js';
import type { Position } from '../../src/event-store/position.js';

/**
 * What the demo prints while the platform works: the events of the main job,
 * read live from $all (the same feed the projector reads), one friendly line
 * each. Mails come from the mail catcher (`mail()`).
 */

export interface ProgressContext {
  /** workflow id → its name, for the lines */
  workflowName(workflowId: string): string;
  /** proxy id → where it listens */
  proxyLabel(proxyId: string): string;
  /** the console page of a stream */
  streamUrl(stream: string): string;
  /** a line for the terminal */
  print(line: string): void;
  /** milestones the demo's test (and the summary) reads */
  milestone(name: 'first-items' | 'quota-pause' | 'mail', detail: string): void;
  /** a run ended (done or failed): the read models have news */
  runEnded(): void;
}

const WATCHED = [
  'ProxyAssigned',
  'ExecutionStarted',
  'ItemsCollected',
  'ExecutionCompleted',
  'ExecutionRetried',
  'ExecutionFailed',
  'ExecutionRejected',
  'UsageRecorded',
  'QuotaExceeded',
  'WorkflowPaused',
  'WorkflowResumed',
  'ProxyFailed',
  'ProxyRecovered',
] as const;

const FEATURE_WORDS: Record<string, string> = { daily_api_calls: 'daily API calls' };
const feature = (name: unknown) => FEATURE_WORDS[String(name)] ?? String(name).replaceAll('_', ' ');
const PLATFORM_NAMES: Record<string, string> = { xiaohongshu: 'Xiaohongshu', qidian: 'Qidian' };
const platform = (name: unknown) => PLATFORM_NAMES[String(name)] ?? String(name);

const ITEM_WORDS: Record<string, string> = {
  'xiaohongshu.notes': 'notes',
  'xiaohongshu.messages': 'messages',
  'qidian.rankings': 'ranking entries',
  'qidian.novels': 'novel snapshots',
  'qidian.watchlist': 'novel snapshots',
};

type Data = Record<string, any>;

export interface ProgressFeed {
  /** a caught mail */
  mail(to: string, subject: string): void;
  stop(): Promise<void>;
}

/** Follows the events after `from` (the head of $all before the demo set anything up). */
export function followProgress(store: EventStore, from: Position | 'start', ctx: ProgressContext, mailboxUrl: string): ProgressFeed {
  const proxyOf = new Map<string, string>();
  const startedAt = new Map<string, number>();
  const itemsBy = new Map<string, number>();
  const runs = new Map<string, number>();
  let firstItems = false;
  let quotaPause = false;
  const subscription = store.subscribeToAll({ fromPosition: from, filter: { eventTypes: WATCHED } });
  const clock = () => new Date().toLocaleTimeString('en-GB');
  const say = (icon: string, text: string) => ctx.print(`${clock()}  ${icon} ${text}`);
  const wf = (d: Data) => ctx.workflowName(String(d['workflowId']));

  function handle(event: RecordedEvent): void {
    const d = event.data as Data;
    switch (event.type) {
      case 'ProxyAssigned':
        proxyOf.set(d['executionId'], ctx.proxyLabel(d['proxyId']));
        return;
      case 'ExecutionStarted': {
        startedAt.set(d['executionId'], Date.now());
        const n = (runs.get(d['workflowId']) ?? 0) + 1;
        runs.set(d['workflowId'], n);
        const proxy = proxyOf.get(d['executionId']);
        const retry = d['attempt'] > 1 ? ` (attempt ${d['attempt']})` : '';
        say('▶', `${wf(d)}: run started${retry}${proxy ? ` through proxy ${proxy}` : ''}`);
        return;
      }
      case 'ItemsCollected': {
        const word = ITEM_WORDS[d['type']] ?? 'items';
        const count = (d['items'] as unknown[]).length;
        const total = (itemsBy.get(word) ?? 0) + count;
        itemsBy.set(word, total);
        say('+', `${count} ${count === 1 ? word.replace(/ies$/, 'y').replace(/s$/, '') : word} collected (${wf(d)}; ${total} ${word} since the demo started)`);
        if (!firstItems) {
          firstItems = true;
          ctx.milestone('first-items', `${count} ${word}`);
        }
        return;
      }
      case 'ExecutionCompleted': {
        const began = startedAt.get(d['executionId']);
        const took = began ? ` in ${((Date.now() - began) / 1000).toFixed(1)} s` : '';
        say('✓', `${wf(d)}: run done, ${d['itemCount']} items${took}`);
        ctx.runEnded();
        return;
      }
      case 'ExecutionRetried':
        say('↻', `${wf(d)}: run retried: ${d['reason']}`);
        return;
      case 'ExecutionFailed':
        say('✗', `${wf(d)}: run failed: ${d['reason']}`);
        ctx.runEnded();
        return;
      case 'ExecutionRejected':
        say('✗', `${wf(d)}: run refused (${d['reason']})${d['reason'] === 'QUOTA_EXCEEDED' ? ': no daily API calls left' : ''}`);
        return;
      case 'UsageRecorded':
        say('·', `quota: ${d['usedToday']} of ${d['limit'] ?? 'unlimited'} ${feature(d['feature'])} used today (${platform(d['service'])} ${d['plan']} plan)`);
        return;
      case 'QuotaExceeded':
        say(
          '!',
          `quota exceeded: a run needs ${d['requested']} ${feature(d['feature'])}, ${d['used']} of the ${platform(d['service'])} ${d['plan']} plan's ${d['limit']} are used today`,
        );
        return;
      case 'WorkflowPaused': {
        const until = d['until'] ? ` until ${new Date(d['until']).toLocaleString('en-GB')}` : '';
        say('⏸', `${wf(d)}: paused (${d['reason']})${until}; see ${ctx.streamUrl(event.streamName)}`);
        if (d['reason'] === 'quota_exceeded' && !quotaPause) {
          quotaPause = true;
          ctx.milestone('quota-pause', wf(d));
        }
        return;
      }
      case 'WorkflowResumed':
        say('⏵', `${wf(d)}: resumed`);
        return;
      case 'ProxyFailed':
        say('!', `proxy ${ctx.proxyLabel(d['proxyId'])} failed: ${d['reason']}`);
        return;
      case 'ProxyRecovered':
        say('✓', `proxy ${ctx.proxyLabel(d['proxyId'])} recovered`);
        return;
    }
  }

  const reading = (async () => {
    for await (const batch of subscription) for (const event of batch.events) handle(event);
  })().catch((error: unknown) => ctx.print(`(progress feed stopped: ${error instanceof Error ? error.message : String(error)})`));

  return {
    mail(to, subject) {
      say('✉', `mail to ${to}: “${subject}” (${mailboxUrl})`);
      ctx.milestone('mail', subject);
    },
    async stop() {
      await subscription.close();
      await reading;
    },
  };
}
