import { reaches } from './data-scope.js';
import { randomUUID } from 'node:crypto';
import type { SecretBox } from './ports/secret-box.js';
import type { EventStore } from '../event-store/port.js';
import { WrongExpectedVersionError } from '../event-store/errors.js';
import { verifyCredentials, type AccountVerifiers } from '../platforms/account-verifier.js';
import { platformModule } from '../platforms/registry.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import type { PlatformAccountCommand, VerificationOutcome } from '../write-model/platform-account/commands.js';
import { platformAccountAggregate, platformAccountStream } from '../write-model/platform-account/decider.js';
import type { PlatformAccountEvent } from '../write-model/platform-account/events.js';
import type { ConnectedAccount, PlatformAccountState } from '../write-model/platform-account/state.js';
import { featuresOf, type Service } from '../write-model/subscription/plans.js';
import { releaseResource, reserveResource, type QuotaCall } from './subscription-quotas.js';

/**
 * Connect, rotate, verify and disconnect a platform account: the steps
 * around the PlatformAccount commands that need adapters — sealing the
 * credentials (SecretBox, the account id as context, so a box copied to
 * another account will not open), the plan's account_limit and the platform
 * verifier.
 *
 * - The account slot: a service whose catalogue has `account_limit`
 *   (xiaohongshu) holds one reservation per account (resourceId = account
 *   id) from connect to disconnect; a service without it (qidian) holds none.
 *   A connect that fails after the reservation gives it back.
 * - Ownership is checked on the write side: another user's account is
 *   NOT_FOUND, like an unknown one (the decider would say PERMISSION_DENIED).
 * - Clear credentials exist only in these calls: sealed before a command,
 *   opened only to verify.
 */

export interface PlatformAccountsDeps {
  store: EventStore;
  secretBox: SecretBox;
  verifiers: AccountVerifiers;
  /** config QUOTA_TIME_ZONE (the quota day of a refused reservation) */
  timeZone: string;
  now?: () => Date;
}

export interface Actor {
  userId: string;
  context: CommandContext;
  /** whose accounts the caller's data scope reaches (ctx.state.access.ownerIds: docs/rbac.md); default: their own */
  ownerIds?: readonly string[];
}

type Result = HandleResult<PlatformAccountState, PlatformAccountEvent>;

/** Whether accounts of this service count against the plan's account_limit (from the catalogue). */
export function holdsAccountSlot(service: Service): boolean {
  return (featuresOf(service) as string[]).includes('account_limit');
}

function quotaCall(deps: PlatformAccountsDeps, actor: Actor, service: Service, now: Date): QuotaCall {
  return { store: deps.store, userId: actor.userId, service, now, timeZone: deps.timeZone, context: actor.context };
}

function serviceOf(platform: string): Service {
  const module = platformModule(platform);
  if (!module) throw new DomainError('VALIDATION_ERROR', `unknown platform ${platform}`, { field: 'platform' });
  return module.service;
}

/** The user agent the owner gave with the credentials, if any (not a secret: events carry it in clear). */
function userAgentOf(credentials: unknown): string | undefined {
  const ua = (credentials as { userAgent?: unknown } | null)?.userAgent;
  return typeof ua === 'string' && ua !== '' ? ua : undefined;
}

function seal(deps: PlatformAccountsDeps, accountId: string, credentials: unknown) {
  return deps.secretBox.encrypt(JSON.stringify(credentials), accountId);
}

/** The clear credentials; a parse error would quote them, so it is replaced by one that does not. */
function openSealed(deps: PlatformAccountsDeps, accountId: string, state: ConnectedAccount): unknown {
  const clear = deps.secretBox.decrypt(state.credentials, accountId);
  try {
    return JSON.parse(clear) as unknown;
  } catch {
    throw new Error(`the sealed credentials of platform account ${accountId} are not JSON`);
  }
}

/** An account in the caller's data scope (their own by default), from the write side; NOT_FOUND for an unknown one or one out of scope. */
export async function ownedAccount(
  store: EventStore,
  accountId: string,
  userId: string,
  ownerIds?: readonly string[],
): Promise<{ state: ConnectedAccount; revision: bigint }> {
  const { state, revision } = await load(store, platformAccountAggregate, accountId);
  if (state.status === 'none' || !reaches({ userId, ...(ownerIds ? { ownerIds } : {}) }, state.ownerId))
    throw new DomainError('NOT_FOUND', 'platform account not found', { accountId });
  return { state, revision };
}

/**
 * The command as a decision on fresh state: another user's account is
 * NOT_FOUND, like an unknown one. With If-Match the ownership is checked
 * first, so a stranger learns nothing from a 412.
 */
async function asOwner<C>(
  deps: PlatformAccountsDeps,
  actor: Actor,
  accountId: string,
  command: C,
  expectedRevision: bigint | undefined,
): Promise<(state: PlatformAccountState) => C> {
  if (expectedRevision !== undefined) await ownedAccount(deps.store, accountId, actor.userId, actor.ownerIds);
  return (state) => {
    if (state.status === 'none' || !reaches(actor, state.ownerId)) throw new DomainError('NOT_FOUND', 'platform account not found', { accountId });
    return command;
  };
}

const ifMatch = (expectedRevision: bigint | undefined) => (expectedRevision !== undefined ? { expectedRevision } : {});

/** Gives the slot back; a user without a subscription to the service holds none. */
async function releaseSlot(deps: PlatformAccountsDeps, actor: Actor, service: Service, accountId: string, now: Date): Promise<void> {
  try {
    await releaseResource(quotaCall(deps, actor, service, now), 'account_limit', accountId);
  } catch (error) {
    if (!(error instanceof DomainError && error.code === 'NOT_FOUND')) throw error;
  }
}

export interface ConnectInput {
  platform: string;
  /** clear, already validated by the platform's credentialsSchema */
  credentials: unknown;
  displayName: string;
}

/** Reserves the slot (where the plan counts accounts), seals the credentials, connects. Throws QUOTA_EXCEEDED at the limit. */
export async function connectPlatformAccount(deps: PlatformAccountsDeps, actor: Actor, input: ConnectInput): Promise<{ accountId: string; result: Result }> {
  const service = serviceOf(input.platform);
  const now = deps.now?.() ?? new Date();
  const accountId = randomUUID();
  const credentials = seal(deps, accountId, input.credentials);
  const slot = holdsAccountSlot(service);
  if (slot) await reserveResource(quotaCall(deps, actor, service, now), 'account_limit', accountId);
  try {
    const userAgent = userAgentOf(input.credentials);
    const result = await handle(
      deps.store,
      platformAccountAggregate,
      accountId,
      {
        type: 'ConnectPlatformAccount',
        accountId,
        ownerId: actor.userId,
        platform: input.platform,
        platformUserId: null,
        displayName: input.displayName,
        credentials,
        ...(userAgent ? { userAgent } : {}),
        now: now.toISOString(),
      },
      { context: actor.context, expectedRevision: 'no_stream' },
    );
    return { accountId, result };
  } catch (error) {
    // the account was not connected: its slot must not stay held (the original error is what the caller learns)
    if (slot) await releaseSlot(deps, actor, service, accountId, now).catch(() => undefined);
    throw error;
  }
}

/** New credentials (on an invalid account: the reconnect, back to pending_verification). */
export async function rotatePlatformAccountCredentials(
  deps: PlatformAccountsDeps,
  actor: Actor,
  accountId: string,
  credentials: unknown,
  expectedRevision?: bigint,
): Promise<Result> {
  const userAgent = userAgentOf(credentials);
  const command: PlatformAccountCommand = {
    type: 'RotateAccountCredentials',
    accountId,
    requestedBy: actor.userId,
    credentials: seal(deps, accountId, credentials),
    ...(userAgent ? { userAgent } : {}),
    now: (deps.now?.() ?? new Date()).toISOString(),
  };
  return handle(deps.store, platformAccountAggregate, accountId, await asOwner(deps, actor, accountId, command, expectedRevision), {
    context: actor.context,
    ...ifMatch(expectedRevision),
  });
}

/** The owner relabels the account (the same name again is a no-op). */
export async function renamePlatformAccount(
  deps: PlatformAccountsDeps,
  actor: Actor,
  accountId: string,
  displayName: string,
  expectedRevision?: bigint,
): Promise<Result> {
  const command: PlatformAccountCommand = {
    type: 'RenamePlatformAccount',
    accountId,
    requestedBy: actor.userId,
    displayName,
    now: (deps.now?.() ?? new Date()).toISOString(),
  };
  return handle(deps.store, platformAccountAggregate, accountId, await asOwner(deps, actor, accountId, command, expectedRevision), {
    context: actor.context,
    ...ifMatch(expectedRevision),
  });
}

/** Disconnects and gives the slot back (also after a repeat, so a release lost to a crash is made good). */
export async function disconnectPlatformAccount(deps: PlatformAccountsDeps, actor: Actor, accountId: string, expectedRevision?: bigint): Promise<Result> {
  const now = deps.now?.() ?? new Date();
  const command: PlatformAccountCommand = { type: 'DisconnectPlatformAccount', accountId, requestedBy: actor.userId, now: now.toISOString() };
  const result = await handle(deps.store, platformAccountAggregate, accountId, await asOwner(deps, actor, accountId, command, expectedRevision), {
    context: actor.context,
    ...ifMatch(expectedRevision),
  });
  const platform = result.state.status === 'none' ? null : result.state.platform;
  const module = platform === null ? undefined : platformModule(platform);
  // the slot is the owner's, whoever in their organization disconnects it
  const ownerId = result.state.status === 'none' ? actor.userId : result.state.ownerId;
  if (module && holdsAccountSlot(module.service)) await releaseSlot(deps, { ...actor, userId: ownerId }, module.service, accountId, now);
  return result;
}

/**
 * Tries at recording a verdict while changes that leave the credentials and
 * the status alone land beside it. Each retry is safe (the verdict still
 * holds), and pm-account-health, when it lags, appends its health records in
 * a burst, one per verdict and run it catches up on: four tries could all
 * meet that burst and answer a 409 for nothing.
 */
const VERIFY_RECORD_ATTEMPTS = 20;

/** The same sealed credentials (a fresh IV seals every rotation; a snapshot may hold the keys in another order). */
function sameSealed(a: ConnectedAccount['credentials'], b: ConnectedAccount['credentials']): boolean {
  return a.keyId === b.keyId && a.iv === b.iv && a.tag === b.tag && a.ciphertext === b.ciphertext;
}

/**
 * Opens the credentials, asks the platform and records its verdict. The
 * verdict is about the credentials read at revision R: it is recorded on R,
 * or on a later revision when what landed meanwhile left the credentials and
 * the status as they were (the health process manager's AccountHealthChanged);
 * a rotation or an invalidation meanwhile, or any change with If-Match, is
 * 409 / 412: verify again. Throws
 * UpstreamUnavailableError when the platform gave no verdict.
 */
export async function verifyPlatformAccount(
  deps: PlatformAccountsDeps,
  actor: Actor,
  accountId: string,
  expectedRevision?: bigint,
): Promise<{ outcome: VerificationOutcome; result: Result }> {
  const { state, revision } = await ownedAccount(deps.store, accountId, actor.userId, actor.ownerIds);
  if (expectedRevision !== undefined && expectedRevision !== revision)
    throw new WrongExpectedVersionError(platformAccountStream(accountId), expectedRevision, revision);
  if (state.status === 'disconnected') {
    throw new DomainError('CONFLICT', `platform account ${accountId} is disconnected`, { accountId, status: state.status });
  }
  if (state.oauth) {
    // the platform vouched for the user when it granted the tokens; a lapsed grant is found by the refresh job
    throw new DomainError('CONFLICT', `platform account ${accountId} is bound through OAuth: authorize it again instead`, { accountId, binding: 'oauth' });
  }
  const credentials = openSealed(deps, accountId, state);
  const outcome = await verifyCredentials(deps.verifiers, state.platform, credentials);
  const command: PlatformAccountCommand = {
    type: 'VerifyAccount',
    accountId,
    requestedBy: actor.userId,
    outcome,
    now: (deps.now?.() ?? new Date()).toISOString(),
  };
  let at = revision;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await handle(deps.store, platformAccountAggregate, accountId, command, { context: actor.context, expectedRevision: at });
      return { outcome, result };
    } catch (error) {
      // pm-account-health appends to this stream after each verdict: a change that left the credentials and the
      // status alone does not touch this verdict (with If-Match the conflict is the caller's)
      if (!(error instanceof WrongExpectedVersionError) || expectedRevision !== undefined || attempt >= VERIFY_RECORD_ATTEMPTS) throw error;
      const now = await load(deps.store, platformAccountAggregate, accountId);
      const untouched = now.state.status === state.status && sameSealed(now.state.credentials, state.credentials);
      if (!untouched) throw error;
      at = now.revision;
    }
  }
}
