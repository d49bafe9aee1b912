import { ownersOf } from './data-scope.js';
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../event-store/port.js';
import { comparePositions, type Position } from '../event-store/position.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import type { PublicationCommand } from '../write-model/publication/commands.js';
import { publicationAggregate } from '../write-model/publication/decider.js';
import type { PublicationStatus } from '../write-model/publication/events.js';
import type { PublicationState } from '../write-model/publication/state.js';
import { loadArticleVersion, missingMedia } from './articles.js';
import { consumeQuota } from './subscription-quotas.js';
import { uuidFromName } from '../write-model/core/event-ids.js';
import type { OverageCharger } from './ledger/overage.js';

/** The id of a publication's PublicationRequested: known before it is written (a charge past the quota names it). */
export function publicationRequestId(publicationId: string): string {
  return uuidFromName(`publication-requested:${publicationId}`);
}

/**
 * Publishing an article (POST /api/v1/articles/{id}/publish) and what its
 * owner may do with a publication after (cancel, unpublish). Nothing here
 * talks to a platform: each target becomes a publication of its own
 * (`publication-{id}`, PublicationRequested with the content of the
 * article's current version), which pm-publications pre-reviews and queues,
 * and the worker publishes.
 *
 * Checks, in order, before anything is written: the article is the
 * caller's (NOT_FOUND) and every image it names still the owner's upload
 * (VALIDATION_ERROR, details.mediaIds); every account is the caller's (NOT_FOUND naming
 * it), of a platform that has a publisher (VALIDATION_ERROR under
 * body.account_ids.{i}) and active (CONFLICT, details.reason
 * `account_not_active`); then the plan's daily_publications quota of the
 * xiaohongshu service counts one per target, all or none (QUOTA_EXCEEDED,
 * details.feature/limit/resetsAt, as everywhere).
 */

/** The service whose plans count publications (the content creator's). */
export const PUBLISHING_SERVICE = 'xiaohongshu' as const;
/** Targets one request may name. */
export const MAX_PUBLISH_TARGETS = 20;
export const DEFAULT_REGION = 'CN';

export interface PublicationDeps {
  store: EventStore;
  now: () => Date;
  /** QUOTA_TIME_ZONE: the quota day */
  timeZone: string;
  /** the platforms there is a publisher for (src/platforms/publishing/registry.ts) */
  platforms: readonly string[];
  /** past daily_publications: charged to the balance instead when the holder opted in (docs/ledger.md) */
  overage?: OverageCharger;
}

export interface PublicationCaller {
  userId: string;
  context: CommandContext;
  /** whose articles and publications the caller's data scope reaches (ctx.state.access.ownerIds); default: the caller's own */
  ownerIds?: readonly string[];
}

/**
 * The owner of a publication the caller reaches, whom a change is made for;
 * one out of reach is handed to the decider as the caller's own request,
 * which it refuses as unknown (NOT_FOUND).
 */
function actingOwner(state: PublicationState, caller: PublicationCaller): string {
  return state.status !== 'none' && ownersOf(caller).includes(state.ownerId) ? state.ownerId : caller.userId;
}

export interface PublishInput {
  articleId: string;
  accountIds: readonly string[];
  /** null: at once */
  at: Date | null;
  region: string;
}

export interface RequestedPublicationSummary {
  publicationId: string;
  accountId: string;
  platform: string;
  status: Extract<PublicationStatus, 'scheduled' | 'pending_review'>;
  scheduledAt: string | null;
}

export interface PublishResult {
  articleId: string;
  articleVersion: number;
  publications: RequestedPublicationSummary[];
  /** where the last publication's request stands in $all (read-your-writes) */
  position: Position | undefined;
}

export async function requestPublications(deps: PublicationDeps, caller: PublicationCaller, input: PublishInput): Promise<PublishResult> {
  // the article's owner publishes it: their accounts, their quota, their publications (an organization's article: the organization's)
  const article = await loadArticleVersion(deps.store, { articleId: input.articleId, ownerId: ownersOf(caller) });
  const ownerId = article.ownerId;
  // an image deleted since the article named it: refused now rather than failing every publication later (and costing quota)
  const gone = await missingMedia(deps.store, ownerId, article);
  if (gone.length > 0) {
    const message = `article ${input.articleId} names images that no longer exist (${gone.join(', ')}): name images that exist, then publish`;
    throw new DomainError('VALIDATION_ERROR', message, { issues: [{ path: [], message, code: 'invalid' }], articleId: input.articleId, mediaIds: gone });
  }
  const targets: { accountId: string; platform: string }[] = [];
  for (const [index, accountId] of input.accountIds.entries()) {
    const { state: account } = await load(deps.store, platformAccountAggregate, accountId);
    if (account.status === 'none' || account.ownerId !== ownerId) throw new DomainError('NOT_FOUND', `platform account ${accountId} not found`, { accountId });
    if (!deps.platforms.includes(account.platform)) {
      throw new DomainError('VALIDATION_ERROR', `platform account ${accountId} is a ${account.platform} account: nothing publishes to ${account.platform}`, {
        issues: [{ in: 'body', path: ['account_ids', index], message: `no publisher for ${account.platform}`, code: 'custom' }],
        accountId,
        platform: account.platform,
        platforms: deps.platforms,
      });
    }
    if (account.status !== 'active') {
      throw new DomainError('CONFLICT', `platform account ${accountId} is ${account.status}: only an active account publishes`, {
        reason: 'account_not_active',
        status: account.status,
        accountId,
      });
    }
    targets.push({ accountId, platform: account.platform });
  }
  const now = deps.now();
  // named ids: the first publication's request is the source a charge past the quota names
  const publicationIds = targets.map(() => randomUUID());
  try {
    await consumeQuota(
      { store: deps.store, userId: ownerId, service: PUBLISHING_SERVICE, now, timeZone: deps.timeZone, context: caller.context },
      'daily_publications',
      targets.length,
    );
  } catch (error) {
    if (!(error instanceof DomainError) || error.code !== 'QUOTA_EXCEEDED' || !deps.overage) throw error;
    const charged = await deps.overage({
      userId: ownerId,
      item: 'publication',
      quantity: targets.length,
      sourceEventId: publicationRequestId(publicationIds[0]!),
      sourceStream: publicationAggregate.streamName(publicationIds[0]!),
      reason: `${targets.length} publication(s) of article ${input.articleId} past the daily_publications quota: ${publicationIds.join(', ')}`,
    });
    if (charged === null) throw error;
    if (!charged.ok) {
      throw new DomainError('QUOTA_EXCEEDED', `${error.message}; the balance does not cover the ${charged.amountCents} cents they cost`, {
        ...error.details,
        overage: { refused: charged.reason, amount_cents: charged.amountCents, available_cents: charged.availableCents },
      });
    }
  }
  const content = {
    title: article.title,
    body: article.body,
    summary: article.summary,
    tags: article.tags,
    coverMediaId: article.coverMediaId,
    imageMediaIds: article.imageMediaIds,
  };
  const scheduledAt = input.at ? input.at.toISOString() : null;
  const results = await Promise.all(
    targets.map(async (target, index) => {
      const publicationId = publicationIds[index]!;
      const result = await handle(
        deps.store,
        publicationAggregate,
        publicationId,
        {
          type: 'RequestPublication',
          publicationId,
          ownerId,
          authorId: caller.userId,
          articleId: input.articleId,
          articleVersion: article.version,
          accountId: target.accountId,
          platform: target.platform,
          region: input.region,
          content,
          scheduledAt,
          now: now.toISOString(),
        },
        {
          context: caller.context,
          expectedRevision: 'no_stream',
          eventIds: (i) => (i === 0 ? publicationRequestId(publicationId) : uuidFromName(`publication-requested:${publicationId}#${i}`)),
        },
      );
      return {
        summary: {
          publicationId,
          accountId: target.accountId,
          platform: target.platform,
          status: scheduledAt === null ? ('pending_review' as const) : ('scheduled' as const),
          scheduledAt,
        },
        position: result.position,
      };
    }),
  );
  let position: Position | undefined;
  for (const r of results) if (r.position && (!position || comparePositions(r.position, position) > 0)) position = r.position;
  return { articleId: input.articleId, articleVersion: article.version, publications: results.map((r) => r.summary), position };
}

export interface PublicationChange {
  publicationId: string;
  status: PublicationStatus;
  revision: bigint;
  position: Position | undefined;
}

/** Cancels one of the caller's publications before publishing starts (CONFLICT after, NOT_FOUND for others'). */
export async function cancelPublication(
  deps: Pick<PublicationDeps, 'store' | 'now'>,
  caller: PublicationCaller,
  publicationId: string,
): Promise<PublicationChange> {
  const result = await handle(
    deps.store,
    publicationAggregate,
    publicationId,
    (state): PublicationCommand => ({ type: 'CancelPublication', publicationId, requestedBy: actingOwner(state, caller), now: deps.now().toISOString() }),
    { context: caller.context },
  );
  return { publicationId, status: statusOf(result.state), revision: result.revision, position: result.position };
}

/**
 * Asks for one of the caller's published posts to be taken down (an
 * `unpublish` job does it): CONFLICT when it is not published, or its
 * platform's publisher cannot take posts down.
 */
export async function requestUnpublish(
  deps: Pick<PublicationDeps, 'store' | 'now'> & { canUnpublish: (platform: string) => boolean },
  caller: PublicationCaller,
  publicationId: string,
): Promise<PublicationChange> {
  const result = await handle(
    deps.store,
    publicationAggregate,
    publicationId,
    (state): PublicationCommand => ({
      type: 'RequestUnpublish',
      publicationId,
      requestedBy: actingOwner(state, caller),
      canUnpublish: state.status !== 'none' && deps.canUnpublish(state.platform),
      now: deps.now().toISOString(),
    }),
    { context: caller.context },
  );
  return { publicationId, status: statusOf(result.state), revision: result.revision, position: result.position };
}

function statusOf(state: { status: string }): PublicationStatus {
  return state.status as PublicationStatus;
}
