import type { EventStore } from '../../src/event-store/port.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import type { SealedSecret } from '../../src/write-model/core/sealed-secret.js';
import { platformAccountAggregate } from '../../src/write-model/platform-account/index.js';

export interface AccountToConnect {
  accountId: string;
  ownerId: string;
  /** the credentials as the secret box sealed them for this account */
  credentials: SealedSecret;
  displayName?: string;
  platform?: string;
  userAgent?: string;
  now?: string;
}

/** Connects a platform account (pending verification) as its owner's request does: one ConnectPlatformAccount. */
export async function connectPlatformAccount(store: EventStore, context: CommandContext, account: AccountToConnect): Promise<void> {
  const { accountId, ownerId, credentials, userAgent } = account;
  await handle(
    store,
    platformAccountAggregate,
    accountId,
    {
      type: 'ConnectPlatformAccount',
      accountId,
      ownerId,
      platform: account.platform ?? 'xiaohongshu',
      platformUserId: null,
      displayName: account.displayName ?? 'main',
      credentials,
      ...(userAgent === undefined ? {} : { userAgent }),
      now: account.now ?? new Date().toISOString(),
    },
    { context },
  );
}
