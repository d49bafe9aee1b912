import type { EventStore } from '../../event-store/port.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { DomainError } from '../../write-model/core/domain-error.js';
import { LEDGER_ITEMS, unitPriceCents, type Holder } from '../../write-model/ledger/index.js';
import type { BalanceHolder, ChargeRequest, ChargeResult, LedgerCharges } from '../ports/ledger.js';
import type { MembershipDirectory } from '../ports/membership.js';
import type { LedgerWriter } from './writer.js';

/** The holder a user's usage is charged to: their organization, or themselves outside one. */
export async function holderOfUser(memberships: MembershipDirectory | undefined, userId: string): Promise<BalanceHolder> {
  const membership = memberships ? await memberships.of(userId) : null;
  return membership ? { kind: 'organization', id: membership.organizationId } : { kind: 'user', id: userId };
}

/** The port's holder as the write model names it. */
export function asHolder(holder: BalanceHolder): Holder {
  return { kind: holder.kind, id: holder.id };
}

function requireRequest(request: ChargeRequest): void {
  const bad = (field: string, message: string) => new DomainError('VALIDATION_ERROR', message, { field });
  if (!LEDGER_ITEMS.includes(request.item)) throw bad('item', `item must be one of ${LEDGER_ITEMS.join(', ')}`);
  if (!Number.isSafeInteger(request.quantity) || request.quantity < 1) throw bad('quantity', 'quantity must be a whole number of at least 1');
  for (const field of ['sourceEventId', 'sourceStream', 'reason'] as const) {
    if (typeof request[field] !== 'string' || request[field].trim() === '') throw bad(field, `${field} must not be empty`);
  }
  if (request.holder?.kind !== 'organization' && request.holder?.kind !== 'user') throw bad('holder.kind', 'holder.kind must be organization or user');
  if (typeof request.holder.id !== 'string' || request.holder.id === '') throw bad('holder.id', 'holder.id must not be empty');
}

/**
 * LedgerCharges on the event store (TOKENS.LedgerCharges): prices from the
 * catalogue (write-model/ledger/prices.ts), postings through the process's
 * LedgerWriter (group commit per holder). Never overdraws; a source charged
 * before answers `duplicate: true` with the same postingId (two processes
 * appending it in the same instant may both answer false: one posting either way).
 */
export class EventStoreLedgerCharges implements LedgerCharges {
  constructor(private readonly deps: { store: EventStore; writer: LedgerWriter; memberships?: MembershipDirectory | undefined; context?: CommandContext }) {}

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    requireRequest(request);
    const unit = unitPriceCents(request.item, request.country);
    const country = request.country ? request.country.toUpperCase() : null;
    const outcome = await this.deps.writer.submit({
      kind: 'charge',
      holder: asHolder(request.holder),
      item: request.item,
      quantity: request.quantity,
      unitPriceCents: unit,
      country,
      sourceEventId: request.sourceEventId,
      sourceStream: request.sourceStream,
      reason: request.reason,
      context: this.deps.context ?? { correlationId: request.sourceEventId, causationId: request.sourceEventId, actor: 'system:ledger' },
    });
    switch (outcome.status) {
      case 'posted':
      case 'duplicate':
        return {
          ok: true,
          postingId: outcome.postingId,
          amountCents: outcome.amountCents,
          balanceCents: outcome.balanceCents,
          duplicate: outcome.status === 'duplicate',
        };
      case 'refused':
        if (outcome.error.details?.reason === 'insufficient_balance') {
          const details = outcome.error.details as { amountCents: number; availableCents: number };
          return { ok: false, reason: 'insufficient_balance', amountCents: details.amountCents, availableCents: details.availableCents };
        }
        throw outcome.error;
      case 'unchanged':
        throw new Error('a charge always posts or is refused');
    }
  }

  holderOf(userId: string): Promise<BalanceHolder> {
    return holderOfUser(this.deps.memberships, userId);
  }
}
