import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { displayNameSchema, emailSchema, passwordSchema, registerUser, type RegisterDeps, type Registered } from '../application/register-user.js';

/** `users create-admin`: an admin account, registered like any other. */
export async function createAdmin(deps: RegisterDeps, input: { email: string; password: string; displayName?: string }): Promise<Registered> {
  const { email, password, displayName } = z
    .object({ email: emailSchema, password: passwordSchema, displayName: displayNameSchema })
    .parse({ email: input.email, password: input.password, displayName: input.displayName ?? 'Admin' });
  const requestId = `cli-${randomUUID()}`;
  return registerUser(deps, {
    email,
    password,
    displayName,
    role: 'admin',
    context: { correlationId: requestId, causationId: requestId, actor: 'cli', requestId },
  });
}
