import type { EventStore } from '../event-store/port.js';
import { load, readEvents } from '../write-model/core/command-handler.js';
import { organizationAggregate } from '../write-model/organization/decider.js';
import { membershipClaimAggregate } from '../write-model/organization/membership-claim.js';
import type { OrganizationState } from '../write-model/organization/state.js';
import { membershipFrom, organizationItself } from './organizations.js';
import type { MembershipDirectory, OrganizationMembership } from './ports/membership.js';

/**
 * Who holds the subscription a user's usage counts on: the organization for
 * one of its members (the members share its plans and quotas), the user
 * themselves outside any organization. Their subscription streams are
 * `subscription-{holder.id}_{service}` alike (subscriptionKey).
 */
export interface PlanHolder {
  kind: 'organization' | 'user';
  id: string;
}

/** The holder of `userId`'s subscriptions, through the membership directory. */
export async function planHolderOf(directory: MembershipDirectory, userId: string): Promise<PlanHolder> {
  const membership = await directory.of(userId);
  return membership ? { kind: 'organization', id: membership.organizationId } : { kind: 'user', id: userId };
}

/**
 * A user's place in their organization, read from the event store (no
 * projection lag): their claim (`organization_member-{userId}`) names the
 * organization, whose stream lists its members. A claim whose organization
 * does not list the user counts as no organization.
 */
export async function readMembership(store: EventStore, userId: string): Promise<OrganizationMembership | null> {
  const claim = (await load(store, membershipClaimAggregate, userId)).state.organizationId;
  // no claim: a user outside any organization, or the id of an organization itself (the owner of its own resources)
  if (claim === null) return organizationItself((await load(store, organizationAggregate, userId)).state);
  const { state } = await load(store, organizationAggregate, claim);
  return membershipFrom(state, userId);
}

/** A MembershipDirectory that reads the event store on every question (consistent; no cache). */
export function storeMemberships(store: EventStore): MembershipDirectory {
  return { of: (userId) => readMembership(store, userId) };
}

/** The holder of `userId`'s subscriptions as the event store has it now. */
export function planHolderIn(store: EventStore, userId: string): Promise<PlanHolder> {
  return planHolderOf(storeMemberships(store), userId);
}

/**
 * Every holder `userId`'s reservations may have been made on: the user
 * themselves and each organization they ever belonged to (their claim
 * stream keeps a claim and a release per organization: a few events).
 * A resource is released where it is held (releasing elsewhere is a no-op),
 * so a member who left still gives back a slot they took on the
 * organization's subscription.
 */
export async function holdersEverOf(store: EventStore, userId: string): Promise<PlanHolder[]> {
  const claims = await readEvents(store, membershipClaimAggregate, userId);
  // an organization's own resources are held on its subscription alone
  if (claims.length === 0 && (await load(store, organizationAggregate, userId)).state.organizationId !== null) return [{ kind: 'organization', id: userId }];
  const holders: PlanHolder[] = [{ kind: 'user', id: userId }];
  for (const event of claims) {
    const id = event.data.organizationId;
    if (!holders.some((h) => h.id === id)) holders.push({ kind: 'organization', id });
  }
  return holders;
}

/** The users whose usage a holder's subscription counts now: the user, or the organization's members. */
export async function usersOfHolder(store: EventStore, holder: PlanHolder): Promise<string[]> {
  if (holder.kind === 'user') return [holder.id];
  const { state } = await load(store, organizationAggregate, holder.id);
  return ownersOf(state, holder.id);
}

/** An organization's members, then the organization itself (whose own resources count on its subscription too). */
function ownersOf(state: OrganizationState, organizationId: string): string[] {
  return [...Object.keys(state.members), organizationId];
}

/**
 * The users whose usage the subscription of holder `id` counts, when only
 * the id is known (a usage stream's events name the holder's id alone): an
 * organization's members, else the user with that id.
 */
export async function usersOfHolderId(store: EventStore, id: string): Promise<string[]> {
  const { state } = await load(store, organizationAggregate, id);
  return state.organizationId === null ? [id] : ownersOf(state, id);
}
