import type { Knex } from 'knex';
import type { Logger } from '../../logger.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { DomainError } from '../../write-model/core/domain-error.js';
import { claimDueDeadlines, completeDeadline, postponeDeadline, type Deadline, type DeadlineKind } from './deadline-table.js';
import type { DeadlineAction } from './expiry-actions.js';

export const SWEEPER_ACTOR = 'pm:deadlines';

export interface SweeperOptions {
  knex: Knex;
  actions: Record<DeadlineKind, DeadlineAction>;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  intervalMs: number;
  batchSize?: number;
  /** first retry after a failure; doubles per attempt up to an hour */
  retryBaseMs?: number;
  /** how long a claimed deadline stays with this sweeper before another may take it (a crashed sweeper's) */
  leaseMs?: number;
}

const DEFAULT_LEASE_MS = 5 * 60 * 1000;

const MAX_RETRY_MS = 60 * 60 * 1000;

/**
 * Works off due deadlines: claims a batch in one short statement (a lease,
 * so several projector processes never run one deadline at once), then runs
 * each action outside any transaction, and removes the row. A DomainError is the aggregate's answer (too
 * early because it was renewed, already closed): the row is done, and if
 * the events moved it, the new time stands. Any other error postpones the
 * row with back-off; the row keeps its due time, nothing is lost.
 */
export class DeadlineSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly options: SweeperOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over what is due at `now`; answers how many deadlines it handled. */
  async sweepOnce(now: Date = new Date()): Promise<number> {
    const { knex, actions, logger } = this.options;
    const batchSize = this.options.batchSize ?? 50;
    const due = await claimDueDeadlines(knex, now, batchSize, this.options.leaseMs ?? DEFAULT_LEASE_MS);
    for (const deadline of due) {
      try {
        await actions[deadline.kind](deadline, now, contextOf(deadline));
        await completeDeadline(knex, deadline);
      } catch (error) {
        if (error instanceof DomainError) {
          logger.info({ deadline: deadline.key, code: error.code, reason: error.message }, 'deadline needs nothing: the aggregate has moved on');
          await completeDeadline(knex, deadline);
          continue;
        }
        const delay = Math.min(MAX_RETRY_MS, (this.options.retryBaseMs ?? 30_000) * 2 ** deadline.attempts);
        logger.warn({ deadline: deadline.key, attempts: deadline.attempts + 1, err: error }, 'deadline failed; retrying later');
        await postponeDeadline(knex, deadline, new Date(now.getTime() + delay), error instanceof Error ? error.message : String(error));
      }
    }
    return due.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweepOnce()
        .then((handled) => this.schedule(handled >= (this.options.batchSize ?? 50) ? 0 : this.options.intervalMs))
        .catch((error: unknown) => {
          this.options.logger.error({ err: error }, 'deadline sweep failed');
          this.schedule(this.options.intervalMs);
        });
    }, delayMs);
  }
}

/** The command's metadata: the event that set the deadline is the cause; its correlation continues. */
function contextOf(deadline: Deadline): CommandContext {
  return { correlationId: deadline.correlationId, causationId: deadline.causeEventId, actor: SWEEPER_ACTOR };
}
