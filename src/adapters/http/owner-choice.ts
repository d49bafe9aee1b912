import { z } from 'zod';
import { accessOf } from './access.js';
import { validationError } from './error-mapping.js';
import { HttpError } from './http-error.js';
import type { AppContext } from './state.js';

/**
 * Who owns a resource being made: the caller (`me`, the default) or their
 * organization. A resource the organization owns has the organization's id
 * as its owner: members reach it through an organization-wide data scope,
 * it counts on the organization's subscription, and it stays when its maker
 * leaves (docs/organizations.md).
 */
export const ownerField = z
  .enum(['me', 'organization'])
  .optional()
  .describe(
    "who owns the new resource: me (default) or my organization, whose id is then its owner_id. For the organization the route's permission must reach organization scope (403 PERMISSION_DENIED, details.reason organization_scope); outside an organization 422.",
  );

export type OwnerChoice = z.infer<typeof ownerField>;

/** The owner id a new resource is recorded under, after the checks ownerField describes. */
export function newResourceOwner(ctx: AppContext, choice: OwnerChoice, field: 'body' | 'query' = 'body'): string {
  const access = accessOf(ctx);
  if (choice !== 'organization') return access.userId;
  if (access.organizationId === null) {
    throw validationError(
      [{ in: field, path: ['owner'], message: 'you are in no organization', code: 'invalid_value' }],
      'you are in no organization to own it',
    );
  }
  if (access.scope !== 'organization') {
    throw new HttpError(
      403,
      'PERMISSION_DENIED',
      `making a resource the organization owns needs ${access.permission} at organization scope; your roles grant it at ${access.scope} scope`,
      { permission: access.permission, reason: 'organization_scope', scope: access.scope, roles: ctx.state.principal?.membership?.roles ?? [] },
    );
  }
  return access.organizationId;
}
