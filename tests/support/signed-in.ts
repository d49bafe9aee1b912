import { randomUUID } from 'node:crypto';
import type { AccessTokens } from '../../src/adapters/auth/access-tokens.js';
import type { PasswordHasher } from '../../src/adapters/crypto/password-hasher.js';
import { generateOpaqueToken, hashToken } from '../../src/application/opaque-tokens.js';
import { registerUser } from '../../src/application/register-user.js';
import type { EventStore } from '../../src/event-store/port.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { sessionAggregate } from '../../src/write-model/session/decider.js';
import { userAggregate } from '../../src/write-model/user/decider.js';
import type { UserRole } from '../../src/write-model/user/events.js';
import { userStanding } from '../../src/write-model/user/state.js';

/**
 * A real user of `role` with a real session, and an access token for it:
 * what a login gives, without the login route (access tokens are only good
 * while their session stands, so a token for nobody's session is refused).
 */
export async function signedIn(
  deps: { store: EventStore; passwordHasher: PasswordHasher; accessTokens: AccessTokens },
  role: UserRole,
): Promise<{ userId: string; sessionId: string; token: string }> {
  const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const { userId } = await registerUser(deps, { email: `${role}-${randomUUID()}@example.test`, password: 'a good password', displayName: role, role, context });
  const sessionId = randomUUID();
  const now = new Date();
  const { state } = await load(deps.store, userAggregate, userId);
  await handle(
    deps.store,
    sessionAggregate,
    sessionId,
    {
      type: 'StartSession',
      userId,
      sessionId,
      refreshTokenHash: hashToken(`${userId}.${sessionId}.${generateOpaqueToken()}`),
      expiresAt: new Date(now.getTime() + 86_400_000).toISOString(),
      user: userStanding(state),
      now: now.toISOString(),
    },
    { context },
  );
  const { token } = await deps.accessTokens.issue({ userId, role, sessionId });
  return { userId, sessionId, token };
}
