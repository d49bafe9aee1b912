import type { Knex } from 'knex';
import type { EventStore, RecordedEvent } from '../../event-store/port.js';
import { load } from '../../write-model/core/command-handler.js';
import { platformAccountAggregate } from '../../write-model/platform-account/decider.js';
import type { AccountStatus } from '../../write-model/platform-account/events.js';
import type { PlatformAccountState } from '../../write-model/platform-account/state.js';
import { subscriptionAggregate, subscriptionKey } from '../../write-model/subscription/decider.js';
import type { SubscriptionState } from '../../write-model/subscription/state.js';

/**
 * What pm-dispatch-executions checks a run against, kept by the manager
 * itself (table pm_dispatch_subjects, rows per consumer): each subscription
 * and platform account as folded by the aggregate's own evolve from the
 * events the manager reads in the same ordered feed as the requests. A batch
 * reads its rows in one query, applies the feed's events in order, and so
 * judges every request on the plan and account as they stood when it was
 * made, whatever a projection's lag. Rows are written back with the batch's
 * checkpoint.
 *
 * A stream without a row (it began before the manager read these events, or
 * after a gap) is loaded from the store when a request first needs it; its
 * revision then skips the events the load already holds.
 */

export const DISPATCH_SUBJECTS_TABLE = 'pm_dispatch_subjects';

/** The events the index is kept from: every type of both aggregates (a type left out would be a gap). */
export const SUBJECT_EVENT_TYPES: readonly string[] = [...subscriptionAggregate.events.types, ...platformAccountAggregate.events.types];

/** An account as a run's check needs it: no credentials, sealed or not, leave the aggregate. */
export type AccountView = { status: 'none' } | { status: AccountStatus; accountId: string; ownerId: string; platform: string };

interface Entry<State> {
  revision: bigint;
  state: State;
  dirty: boolean;
}

interface Row {
  stream_name: string;
  revision: string;
  state: unknown;
}

const subscriptionStream = (ownerId: string, service: string) => subscriptionAggregate.streamName(subscriptionKey(ownerId, service));
const accountStream = (accountId: string) => platformAccountAggregate.streamName(accountId);
const SUBSCRIPTION_PREFIX = subscriptionAggregate.streamName('');
const ACCOUNT_PREFIX = platformAccountAggregate.streamName('');

/** An account as a run's check needs it, from its folded state. */
export function accountView(state: PlatformAccountState): AccountView {
  if (state.status === 'none') return { status: 'none' };
  return { status: state.status, accountId: state.accountId, ownerId: state.ownerId, platform: state.platform };
}

export interface SubjectKeys {
  subscriptions: { ownerId: string; service: string }[];
  accounts: string[];
}

export class SubjectIndex {
  private readonly subscriptions = new Map<string, Entry<SubscriptionState>>();
  private readonly accounts = new Map<string, Entry<AccountView>>();
  /** streams whose row must go (a gap: reloaded when needed) */
  private readonly dropped = new Set<string>();

  private constructor(
    private readonly store: EventStore,
    private readonly consumer: string,
  ) {}

  /**
   * The rows of the streams the batch's requests need and of the streams its
   * events belong to, in one query; the requests' streams without a row
   * that do not begin in the batch are loaded from the store (a few at a
   * time).
   */
  static async open(tx: Knex, store: EventStore, consumer: string, needed: SubjectKeys, fed: readonly RecordedEvent[]): Promise<SubjectIndex> {
    const index = new SubjectIndex(store, consumer);
    const subscriptionStreams = new Set(needed.subscriptions.map((s) => subscriptionStream(s.ownerId, s.service)));
    const accountStreams = new Set(needed.accounts.map(accountStream));
    const streams = new Set([...subscriptionStreams, ...accountStreams, ...fed.map((e) => e.streamName)]);
    if (streams.size > 0) {
      const rows = (await tx(DISPATCH_SUBJECTS_TABLE)
        .where({ consumer })
        .whereIn('stream_name', [...streams])
        .select('stream_name', 'revision', 'state')) as Row[];
      for (const row of rows) {
        const entry = { revision: BigInt(row.revision), dirty: false };
        if (row.stream_name.startsWith(SUBSCRIPTION_PREFIX)) index.subscriptions.set(row.stream_name, { ...entry, state: row.state as SubscriptionState });
        else index.accounts.set(row.stream_name, { ...entry, state: row.state as AccountView });
      }
    }
    // a stream that begins in this batch is folded from its first event, so a request before that event sees none
    const born = new Set(fed.filter((e) => e.revision === 0n).map((e) => e.streamName));
    const missing: (() => Promise<unknown>)[] = [];
    for (const stream of subscriptionStreams) {
      if (index.subscriptions.has(stream)) continue;
      if (born.has(stream)) index.subscriptions.set(stream, { revision: -1n, state: subscriptionAggregate.decider.initialState(), dirty: true });
      else missing.push(() => index.loadSubscription(stream));
    }
    for (const stream of accountStreams) {
      if (index.accounts.has(stream)) continue;
      if (born.has(stream)) index.accounts.set(stream, { revision: -1n, state: { status: 'none' }, dirty: true });
      else missing.push(() => index.loadAccount(stream));
    }
    await inLanes(missing, 8);
    return index;
  }

  /** Folds one Subscription or PlatformAccount event in, if the index is not past it. */
  async apply(recorded: RecordedEvent): Promise<void> {
    if (subscriptionAggregate.events.owns(recorded.type)) {
      const entry = this.subscriptions.get(recorded.streamName);
      const state = this.next(this.subscriptions, entry, recorded);
      if (state === 'skip') return;
      const event = subscriptionAggregate.events.decode(recorded);
      const base = state === 'first' ? subscriptionAggregate.decider.initialState() : entry!.state;
      // the fold updates the state in place: it is this index's own copy
      this.subscriptions.set(recorded.streamName, { revision: recorded.revision, state: subscriptionAggregate.decider.evolve(base, event), dirty: true });
    } else if (platformAccountAggregate.events.owns(recorded.type)) {
      const entry = this.accounts.get(recorded.streamName);
      const state = this.next(this.accounts, entry, recorded);
      if (state === 'skip') return;
      const event = platformAccountAggregate.events.decode(recorded);
      // the view holds every field a status change reads (evolve sets the others from the event or copies them)
      const base = (state === 'first' ? platformAccountAggregate.decider.initialState() : entry!.state) as PlatformAccountState;
      this.accounts.set(recorded.streamName, {
        revision: recorded.revision,
        state: accountView(platformAccountAggregate.decider.evolve(base, event)),
        dirty: true,
      });
    }
  }

  /** 'first': the stream's first event; 'next': the one after the row's; 'skip': already in (or no row to fold onto). */
  private next<State>(entries: Map<string, Entry<State>>, entry: Entry<State> | undefined, recorded: RecordedEvent): 'first' | 'next' | 'skip' {
    if (!entry) return recorded.revision === 0n ? 'first' : 'skip';
    if (recorded.revision <= entry.revision) return 'skip';
    if (recorded.revision === entry.revision + 1n) return 'next';
    // a gap (a truncated or recreated stream): forget the row, a request loads it afresh
    entries.delete(recorded.streamName);
    this.dropped.add(recorded.streamName);
    return 'skip';
  }

  /** The owner's subscription to the service as it stands in the feed (loaded if the index has none). */
  async subscription(ownerId: string, service: string): Promise<SubscriptionState> {
    const stream = subscriptionStream(ownerId, service);
    return (this.subscriptions.get(stream) ?? (await this.loadSubscription(stream))).state;
  }

  async account(accountId: string): Promise<AccountView> {
    const stream = accountStream(accountId);
    return (this.accounts.get(stream) ?? (await this.loadAccount(stream))).state;
  }

  private async loadSubscription(stream: string): Promise<Entry<SubscriptionState>> {
    const { state, revision } = await load(this.store, subscriptionAggregate, stream.slice(SUBSCRIPTION_PREFIX.length));
    const entry = { state, revision, dirty: true };
    this.subscriptions.set(stream, entry);
    return entry;
  }

  private async loadAccount(stream: string): Promise<Entry<AccountView>> {
    const { state, revision } = await load(this.store, platformAccountAggregate, stream.slice(ACCOUNT_PREFIX.length));
    const entry = { state: accountView(state), revision, dirty: true };
    this.accounts.set(stream, entry);
    return entry;
  }

  /** Writes what changed, in the batch's transaction: one statement for the rows, one for the forgotten ones. */
  async save(tx: Knex): Promise<void> {
    const rows: { consumer: string; stream_name: string; revision: string; state: string }[] = [];
    for (const entries of [this.subscriptions, this.accounts] as Map<string, Entry<unknown>>[]) {
      for (const [stream, entry] of entries) {
        if (entry.dirty) rows.push({ consumer: this.consumer, stream_name: stream, revision: entry.revision.toString(), state: JSON.stringify(entry.state) });
      }
    }
    const gone = [...this.dropped].filter((s) => !this.subscriptions.has(s) && !this.accounts.has(s));
    if (gone.length > 0) await tx(DISPATCH_SUBJECTS_TABLE).where({ consumer: this.consumer }).whereIn('stream_name', gone).delete();
    if (rows.length > 0) await tx(DISPATCH_SUBJECTS_TABLE).insert(rows).onConflict(['consumer', 'stream_name']).merge();
  }
}

async function inLanes(tasks: readonly (() => Promise<unknown>)[], lanes: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, tasks.length) }, async () => {
      while (next < tasks.length) await tasks[next++]!();
    }),
  );
}
