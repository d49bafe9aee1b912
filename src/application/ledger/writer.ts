import { randomUUID } from 'node:crypto';
import { IdempotencyConflictError, StreamNotFoundError, WrongExpectedVersionError } from '../../event-store/errors.js';
import type { EventData, EventStore, Json } from '../../event-store/port.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { toMetadata } from '../../write-model/core/command-context.js';
import { handle, load } from '../../write-model/core/command-handler.js';
import { fold } from '../../write-model/core/decider.js';
import { DomainError } from '../../write-model/core/domain-error.js';
import { SCHEMA_VERSION } from '../../write-model/core/event-codec.js';
import { eventIdsFrom, uuidFromName } from '../../write-model/core/event-ids.js';
import { ledgerAccountAggregate, ledgerAccountId } from '../../write-model/ledger-account/index.js';
import {
  ledgerAggregate,
  ledgerPeriodId,
  ledgerStream,
  type Holder,
  type LedgerCommand,
  type LedgerItem,
  type LedgerPeriod,
  type LedgerState,
} from '../../write-model/ledger/index.js';
import { quotaDay } from '../quota-day.js';

/**
 * The one way postings reach a holder's ledger: group commit per holder.
 *
 * Every charge, deposit, withdrawal and credit-limit change for a holder
 * joins that holder's lane in this process. While one append is in flight
 * the next requests wait; when it lands, all that waited are decided in
 * order on the month's state (kept in memory, O(1) per posting) and
 * appended together, at the revision the state stands at. Another process
 * appending meanwhile makes the append fail (WrongExpectedVersion): the lane
 * reads the month again and decides the batch afresh — so the balance is
 * never passed, across processes too. A refusal decided on a kept state
 * (which may be behind a deposit made elsewhere) is decided again on a
 * fresh read before it is answered.
 *
 * Never posted twice: a posting's event id is named after its source
 * (`ledger-charge:{sourceEventId}`, `ledger-deposit:{orderId}`, …). The
 * Postgres store's unique event id index refuses an id seen anywhere
 * before, whatever the stream (last month's too): a repeat alone is
 * answered with the first append's result (or IdempotencyConflictError
 * when it was in another stream) — a duplicate; a batch holding one is
 * split until the repeat stands alone. Ids already posted through this
 * process are recognised before appending (a bounded memory), requests for
 * the same source in flight together share one posting. EventStoreDB
 * recognises a repeat of deterministic ids only by the first id of an
 * append (its marker streams): there, every posting is appended alone.
 *
 * The month: the holder's account stream points at the current one; when
 * the clock has moved into a new month, the pointer moves first, then the
 * old month is closed (LedgerPeriodClosed: nothing lands there any more)
 * and the new one opened with its closing balance and credit limit. A
 * holder's first month is written with the first posting that lands in it:
 * refusals before that write nothing (the read model shows no month).
 */

export type LedgerOp =
  | {
      kind: 'charge';
      holder: Holder;
      item: LedgerItem;
      quantity: number;
      unitPriceCents: number;
      country: string | null;
      sourceEventId: string;
      sourceStream: string;
      reason: string;
      context: CommandContext;
    }
  | { kind: 'deposit'; holder: Holder; orderId: string; provider: string; amountCents: number; reason: string; context: CommandContext }
  | { kind: 'withdraw'; holder: Holder; orderId: string; refundId: string; amountCents: number; reason: string; context: CommandContext }
  | { kind: 'credit_limit'; holder: Holder; creditLimitCents: number; changedBy: string; reason: string; context: CommandContext };

export type LedgerOutcome =
  | { status: 'posted' | 'duplicate'; postingId: string; amountCents: number; balanceCents: number; creditLimitCents: number; period: string }
  | { status: 'unchanged'; balanceCents: number; creditLimitCents: number; period: string }
  | { status: 'refused'; error: DomainError };

/** The id of the event an operation posts: named after its source, so a repeat is known. */
export function postingIdOf(op: LedgerOp): string {
  switch (op.kind) {
    case 'charge':
      return uuidFromName(`ledger-charge:${op.sourceEventId}`);
    case 'deposit':
      return uuidFromName(`ledger-deposit:${op.orderId}`);
    case 'withdraw':
      return uuidFromName(`ledger-withdrawal:${op.orderId}:${op.refundId}`);
    case 'credit_limit':
      return randomUUID();
  }
}

export interface LedgerWriterOptions {
  /** the month's zone (QUOTA_TIME_ZONE) */
  timeZone: string;
  now?: () => Date;
  /** most postings in one append (default 500; 1 on EventStoreDB) */
  maxBatch?: number;
  /** posted ids remembered per holder (default 10,000) */
  recentIds?: number;
}

interface Pending {
  op: LedgerOp;
  id: string;
  resolve(outcome: LedgerOutcome): void;
  reject(error: unknown): void;
}

interface Current {
  period: string;
  state: LedgerPeriod;
  revision: bigint;
  /** read from the store since the last decision (a refusal on it stands) */
  fresh: boolean;
  /** the holder's first month, not yet written: opened only once something lands in it */
  unopened?: boolean;
}

interface Lane {
  holder: Holder;
  pending: Pending[];
  running: boolean;
  current: Current | undefined;
  /** posted ids → amount (insertion order: the oldest are forgotten first) */
  recent: Map<string, number>;
  inFlight: Map<string, Promise<LedgerOutcome>>;
}

const SYSTEM_CONTEXT = (cause: string): CommandContext => ({ correlationId: cause, causationId: cause, actor: 'system:ledger' });
const MAX_ROUNDS = 64;
/** holders kept in memory before idle ones are forgotten */
const MAX_IDLE_LANES = 1_000;
/** how many of a month's latest events a refused charge is looked for among (a repeat follows its first charge within moments) */
const REPEAT_SCAN = 500;

export class LedgerWriter {
  private readonly lanes = new Map<string, Lane>();
  private readonly maxBatch: number;
  private readonly recentIds: number;

  constructor(
    private readonly store: EventStore,
    private readonly options: LedgerWriterOptions,
  ) {
    this.maxBatch = store.kind === 'postgres' ? (options.maxBatch ?? 500) : 1;
    this.recentIds = options.recentIds ?? 10_000;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** The month `at` falls in, in the ledger's zone: YYYY-MM. */
  periodAt(at: Date): string {
    return quotaDay(at, this.options.timeZone).day.slice(0, 7);
  }

  submit(op: LedgerOp): Promise<LedgerOutcome> {
    const lane = this.laneOf(op.holder);
    const id = postingIdOf(op);
    const known = lane.recent.get(id);
    if (known !== undefined && lane.current) {
      const { state, period } = lane.current;
      return Promise.resolve({
        status: 'duplicate',
        postingId: id,
        amountCents: known,
        balanceCents: state.balanceCents,
        creditLimitCents: state.creditLimitCents,
        period,
      });
    }
    const same = lane.inFlight.get(id);
    if (same) return same.then((o) => (o.status === 'posted' ? { ...o, status: 'duplicate' as const } : o));
    const promise = new Promise<LedgerOutcome>((resolve, reject) => lane.pending.push({ op, id, resolve, reject }));
    if (op.kind !== 'credit_limit') {
      lane.inFlight.set(id, promise);
      const forget = () => lane.inFlight.delete(id);
      promise.then(forget, forget);
    }
    if (!lane.running) {
      lane.running = true;
      void this.drain(lane);
    }
    return promise;
  }

  /** The holder's current month as the store has it (opening it when the clock has moved on; a holder's first one is not written). */
  async balance(holder: Holder): Promise<{ period: string; balanceCents: number; creditLimitCents: number }> {
    const current = await this.resolve(holder, this.periodAt(this.now()));
    return { period: current.period, balanceCents: current.state.balanceCents, creditLimitCents: current.state.creditLimitCents };
  }

  private laneOf(holder: Holder): Lane {
    const key = ledgerAccountId(holder);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { holder: { kind: holder.kind, id: holder.id }, pending: [], running: false, current: undefined, recent: new Map(), inFlight: new Map() };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private async drain(lane: Lane): Promise<void> {
    try {
      while (lane.pending.length > 0) {
        // let the callers just answered ask again first: their next requests join this batch, not the one after
        await new Promise<void>((resolve) => setImmediate(resolve));
        const batch = lane.pending.splice(0, this.maxBatch);
        try {
          await this.commit(lane, batch);
        } catch (error) {
          lane.current = undefined;
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      lane.running = false;
      if (lane.pending.length > 0) {
        lane.running = true;
        void this.drain(lane);
      } else if (this.lanes.size > MAX_IDLE_LANES) {
        // many holders: idle lanes are forgotten (their memory of posted ids only saves a round trip; the store still knows)
        for (const [key, idle] of this.lanes) if (!idle.running && idle.pending.length === 0 && idle.inFlight.size === 0) this.lanes.delete(key);
      }
    }
  }

  /** Settles every request of the batch (each one's promise), or throws (the lane rejects what is left). */
  private async commit(lane: Lane, batch: Pending[]): Promise<void> {
    let todo = batch;
    for (let round = 1; todo.length > 0; round++) {
      if (round > MAX_ROUNDS) throw new Error(`ledger ${ledgerAccountId(lane.holder)}: too many conflicts, giving up`);
      const at = this.now();
      const wanted = this.periodAt(at);
      if (!lane.current || lane.current.period < wanted) lane.current = await this.resolve(lane.holder, wanted);
      const current = lane.current;
      const decided = this.decideBatch(current, todo, at.toISOString());
      if (decided === 'stale') {
        await this.reload(lane);
        continue;
      }
      // decided on: another process may deposit before the next batch, whose refusals must read again
      current.fresh = false;
      const { state, events, outcomes } = decided;
      await this.recogniseRepeats(lane, current, todo, outcomes);
      if (events.length === 0) {
        settle(todo, outcomes);
        return;
      }
      if (current.unopened) {
        // something lands: the account and its first month are written now, and the batch decided again on them
        lane.current = await this.resolve(lane.holder, wanted, true);
        continue;
      }
      try {
        const result = await this.store.append(
          ledgerStream(ledgerPeriodId(lane.holder, current.period)),
          events,
          current.revision < 0n ? 'no_stream' : current.revision,
          {
            deterministicIds: true,
          },
        );
        if (result.nextExpectedRevision <= current.revision) {
          // every id was there already (a whole repeat): all of them are duplicates; the month is read again
          await this.reload(lane);
          const now = lane.current;
          settle(
            todo,
            outcomes.map((o) => (o.status === 'posted' ? { ...o, status: 'duplicate' as const, ...(now ? balanceOf(now) : {}) } : o)),
          );
          return;
        }
        lane.current = { period: current.period, state, revision: result.nextExpectedRevision, fresh: false };
        for (const [i, o] of outcomes.entries())
          if (o.status === 'posted' && todo[i]!.op.kind !== 'credit_limit') this.remember(lane, o.postingId, o.amountCents);
        settle(todo, outcomes);
        return;
      } catch (error) {
        if (error instanceof WrongExpectedVersionError) {
          await this.reload(lane);
          continue;
        }
        if (!(error instanceof IdempotencyConflictError)) throw error;
        const posting = todo.filter((_, i) => outcomes[i]!.status === 'posted');
        if (posting.length === 1) {
          // the one new id is known elsewhere (another month, another process): a duplicate; the rest are decided again without it
          const dup = posting[0]!;
          const o = outcomes[todo.indexOf(dup)]!;
          if (o.status === 'posted') {
            dup.resolve({ ...o, status: 'duplicate', ...balanceOf(current) });
            this.remember(lane, o.postingId, o.amountCents);
          }
          todo = todo.filter((p) => p !== dup);
          continue;
        }
        // a repeat hides among several: split, the second half goes back to the front of the lane
        const half = Math.ceil(todo.length / 2);
        lane.pending.unshift(...todo.slice(half));
        todo = todo.slice(0, half);
      }
    }
  }

  /** The batch decided in order on a copy of the month's state; 'stale' when a refusal stands on a kept state. */
  private decideBatch(
    current: Current,
    todo: readonly Pending[],
    now: string,
  ): 'stale' | { state: LedgerPeriod; events: EventData[]; outcomes: LedgerOutcome[] } {
    const { decider, events: codec } = ledgerAggregate;
    let state: LedgerState = { ...current.state };
    const events: EventData[] = [];
    const outcomes: LedgerOutcome[] = [];
    for (const p of todo) {
      let decided: ReturnType<typeof decider.decide>;
      try {
        decided = decider.decide(commandOf(p.op, p.id, current.period, now), state);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        if (error.details?.reason === 'insufficient_balance' && !current.fresh) return 'stale';
        outcomes.push({ status: 'refused', error });
        continue;
      }
      const open = state as LedgerPeriod;
      if (decided.length === 0) {
        outcomes.push({ status: 'unchanged', balanceCents: open.balanceCents, creditLimitCents: open.creditLimitCents, period: current.period });
        continue;
      }
      for (const event of decided) {
        state = decider.evolve(state, event);
        events.push({
          id: p.id,
          type: event.type,
          data: event.data as unknown as Json,
          metadata: { ...toMetadata(p.op.context), [SCHEMA_VERSION]: codec.version(event.type) },
        });
      }
      const after = state as LedgerPeriod;
      const amountCents = 'amountCents' in decided[0]!.data ? (decided[0]!.data as { amountCents: number }).amountCents : 0;
      outcomes.push({
        status: 'posted',
        postingId: p.id,
        amountCents,
        balanceCents: after.balanceCents,
        creditLimitCents: after.creditLimitCents,
        period: current.period,
      });
    }
    return { state: state as LedgerPeriod, events, outcomes };
  }

  /**
   * A charge refused for want of balance (on a fresh read) may repeat one
   * another process has posted: the API charges a single SMS and
   * pm-sms-messages charges it again, and the first charge is what left too
   * little for the second. Such a repeat is looked for among the month's
   * latest events and answered as the duplicate it is, so a paid message is
   * never failed for its own payment. Only refusals pay for the read.
   */
  private async recogniseRepeats(lane: Lane, current: Current, todo: readonly Pending[], outcomes: LedgerOutcome[]): Promise<void> {
    const refused = todo.flatMap((p, i) => {
      const o = outcomes[i]!;
      return p.op.kind === 'charge' && o.status === 'refused' && o.error.details?.reason === 'insufficient_balance' ? [i] : [];
    });
    if (refused.length === 0 || current.unopened) return;
    const latest = await this.store
      .readStream(ledgerStream(ledgerPeriodId(lane.holder, current.period)), { direction: 'backwards', fromRevision: 'end', maxCount: REPEAT_SCAN })
      .catch((error: unknown) => {
        if (error instanceof StreamNotFoundError) return [];
        throw error;
      });
    const posted = new Map(latest.filter((e) => e.type === 'ChargePosted').map((e) => [e.id, e]));
    for (const i of refused) {
      const id = todo[i]!.id;
      const event = posted.get(id);
      if (!event) continue;
      const stored = (event.data as { amountCents?: unknown }).amountCents;
      const amountCents = typeof stored === 'number' ? stored : 0;
      outcomes[i] = { status: 'duplicate', postingId: id, amountCents, ...balanceOf(current), period: current.period };
      this.remember(lane, id, amountCents);
    }
  }

  private remember(lane: Lane, id: string, amountCents: number): void {
    lane.recent.set(id, amountCents);
    if (lane.recent.size > this.recentIds) lane.recent.delete(lane.recent.keys().next().value!);
  }

  /** The month read again; closed meanwhile (another process opened the next): forgotten, resolved on the next round. */
  private async reload(lane: Lane): Promise<void> {
    const period = lane.current?.period;
    if (!period) return;
    const loaded = await load(this.store, ledgerAggregate, ledgerPeriodId(lane.holder, period));
    lane.current = loaded.state.status === 'open' ? { period, state: loaded.state, revision: loaded.revision, fresh: true } : undefined;
  }

  /**
   * The holder's open month, at least `wanted`: the account's pointer moved
   * there (after making sure the month it pointed at was opened), the
   * previous month closed and this one opened with its closing balance.
   * A holder that never had a month gets `wanted` as it would be opened
   * (nothing carried: balance and credit limit 0), unwritten unless `open`:
   * a refused charge leaves no month behind.
   */
  private async resolve(holder: Holder, wanted: string, open = false): Promise<Current> {
    const accountId = ledgerAccountId(holder);
    const context = SYSTEM_CONTEXT(`ledger:${accountId}:${wanted}`);
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      let account = (await load(this.store, ledgerAccountAggregate, accountId)).state;
      if (account.period === null && !open) {
        // the month as its opening would make it, decided but not appended
        const { decider } = ledgerAggregate;
        const opening: LedgerCommand = {
          type: 'OpenLedgerPeriod',
          holder,
          period: wanted,
          openingBalanceCents: 0,
          creditLimitCents: 0,
          previousPeriod: null,
          now: this.now().toISOString(),
        };
        const state = fold(decider, decider.decide(opening, decider.initialState())) as LedgerPeriod;
        return { period: wanted, state, revision: -1n, fresh: true, unopened: true };
      }
      if (account.period !== null && account.period < wanted) {
        // the month it points at is opened before the pointer moves on: a chain with no gap
        await this.ensureOpened(holder, account.period, account.previousPeriod, context);
      }
      if (account.period === null || account.period < wanted) {
        account = (
          await handle(
            this.store,
            ledgerAccountAggregate,
            accountId,
            { type: 'StartLedgerPeriod', holder, period: wanted, now: this.now().toISOString() },
            { context },
          )
        ).state;
      }
      const period = account.period!;
      const opened = await this.ensureOpened(holder, period, account.previousPeriod, context);
      if (opened.state.status === 'open') return { period, state: opened.state, revision: opened.revision, fresh: true };
      // closed: another process has moved on to a later month meanwhile; read the pointer again
    }
    throw new Error(`ledger ${accountId}: could not find the open month`);
  }

  /** The month as stored; opened first (the previous month closed, its balance carried) when it is not yet. */
  private async ensureOpened(
    holder: Holder,
    period: string,
    previous: string | null,
    context: CommandContext,
  ): Promise<{ state: LedgerState; revision: bigint }> {
    const id = ledgerPeriodId(holder, period);
    const loaded = await load(this.store, ledgerAggregate, id);
    if (loaded.state.status !== 'none') return loaded;
    let openingBalanceCents = 0;
    let creditLimitCents = 0;
    if (previous !== null) {
      const previousId = ledgerPeriodId(holder, previous);
      const closed = await handle(
        this.store,
        ledgerAggregate,
        previousId,
        (state): LedgerCommand | [] =>
          state.status === 'open' ? { type: 'CloseLedgerPeriod', holder, period: previous, nextPeriod: period, now: this.now().toISOString() } : [],
        { context, eventIds: eventIdsFrom(`ledger-close:${previousId}`) },
      );
      if (closed.state.status === 'none') throw new Error(`ledger ${id}: the previous month ${previous} was never opened`);
      openingBalanceCents = closed.state.balanceCents;
      creditLimitCents = closed.state.creditLimitCents;
    }
    const opened = await handle(
      this.store,
      ledgerAggregate,
      id,
      { type: 'OpenLedgerPeriod', holder, period, openingBalanceCents, creditLimitCents, previousPeriod: previous, now: this.now().toISOString() },
      { context, eventIds: eventIdsFrom(`ledger-open:${id}`) },
    );
    return { state: opened.state, revision: opened.revision };
  }
}

function balanceOf(current: Current): { balanceCents: number; creditLimitCents: number } {
  return { balanceCents: current.state.balanceCents, creditLimitCents: current.state.creditLimitCents };
}

function settle(todo: readonly Pending[], outcomes: readonly LedgerOutcome[]): void {
  todo.forEach((p, i) => p.resolve(outcomes[i]!));
}

function commandOf(op: LedgerOp, id: string, period: string, now: string): LedgerCommand {
  const base = { holder: op.holder, period, now };
  switch (op.kind) {
    case 'charge':
      return {
        type: 'PostCharge',
        ...base,
        postingId: id,
        item: op.item,
        quantity: op.quantity,
        unitPriceCents: op.unitPriceCents,
        country: op.country,
        sourceEventId: op.sourceEventId,
        sourceStream: op.sourceStream,
        reason: op.reason,
      };
    case 'deposit':
      return {
        type: 'DepositFunds',
        ...base,
        depositId: op.orderId,
        amountCents: op.amountCents,
        orderId: op.orderId,
        provider: op.provider,
        reason: op.reason,
      };
    case 'withdraw':
      return {
        type: 'WithdrawFunds',
        ...base,
        withdrawalId: op.refundId,
        amountCents: op.amountCents,
        orderId: op.orderId,
        refundId: op.refundId,
        reason: op.reason,
      };
    case 'credit_limit':
      return { type: 'ChangeCreditLimit', ...base, creditLimitCents: op.creditLimitCents, changedBy: op.changedBy, reason: op.reason };
  }
}

const writers = new WeakMap<EventStore, LedgerWriter>();

/** The process's writer of a store: one lane per holder however many callers there are. */
export function ledgerWriterOf(store: EventStore, options: LedgerWriterOptions): LedgerWriter {
  let writer = writers.get(store);
  if (!writer) writers.set(store, (writer = new LedgerWriter(store, options)));
  return writer;
}
