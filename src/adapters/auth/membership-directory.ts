import type { MembershipDirectory, OrganizationMembership } from '../../application/ports/membership.js';
import { readMembership } from '../../application/plan-holder.js';
import type { EventStore } from '../../event-store/port.js';

export interface MembershipDirectoryOptions {
  /** how long an answer is reused for a user (default 1000 ms: a change of roles takes effect within it) */
  ttlMs?: number;
  /** most users remembered at once (oldest forgotten first) */
  maxEntries?: number;
}

/**
 * A user's place in their organization, read from the event store (no
 * projection lag): their claim (`organization_member-{userId}`) names the
 * organization, whose stream (snapshot + tail) lists its members, their
 * roles and the custom roles' grants. A claim whose organization does not
 * list the user (left behind by a crash, or a join still on its way) counts
 * as no organization. Answers are kept per user for `ttlMs`, like the
 * session standing: a busy client costs two stream reads a second.
 */
export class EventStoreMembershipDirectory implements MembershipDirectory {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly answers = new Map<string, { at: number; membership: Promise<OrganizationMembership | null> }>();

  constructor(
    private readonly store: EventStore,
    options: MembershipDirectoryOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 1_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  of(userId: string): Promise<OrganizationMembership | null> {
    const now = Date.now();
    const kept = this.answers.get(userId);
    if (kept && now - kept.at < this.ttlMs) return kept.membership;
    const membership = this.read(userId);
    this.answers.delete(userId);
    this.answers.set(userId, { at: now, membership });
    // a failed read is not remembered
    membership.catch(() => this.answers.delete(userId));
    if (this.answers.size > this.maxEntries) this.answers.delete(this.answers.keys().next().value!);
    return membership;
  }

  /**
   * Drops the kept answer for a user (all users without one), so this
   * process sees a membership change it just made at once; other
   * processes see it within ttlMs.
   */
  forget(userId?: string): void {
    if (userId === undefined) this.answers.clear();
    else this.answers.delete(userId);
  }

  private read(userId: string): Promise<OrganizationMembership | null> {
    return readMembership(this.store, userId);
  }
}
