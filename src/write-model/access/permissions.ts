/**
 * The permission catalogue: what a role can grant. A permission names a
 * module, a resource type in it and an operation —
 * `collection.workflows.run` — and every grant carries a data scope: the
 * caller's own resources, their team's, or the whole organization's.
 * Platform operators' permissions live in the `platform` module, which no
 * organization role can grant.
 */

export const OPERATIONS = ['view', 'create', 'edit', 'delete', 'run', 'approve'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Each module's resource types (kebab-case, as in the routes). */
export const MODULES = {
  /** the caller's own account: profile, second factor, API keys, notifications (always own) */
  account: ['profile', 'mfa', 'api-keys', 'notifications'],
  organization: ['organizations', 'members', 'invitations', 'roles'],
  collection: ['platform-accounts', 'workflows', 'executions', 'data', 'messages'],
  publishing: ['articles', 'media', 'publications', 'reviews', 'review-rules'],
  billing: ['subscriptions', 'payments', 'ledger', 'statements'],
  reports: ['reports', 'statistics'],
  messaging: ['sms', 'sms-batches'],
  /** platform operators (the separate scope): users, operations, queues, proxies, payments, reviews, finance */
  platform: ['users', 'operations', 'queues', 'proxies', 'payments', 'reviews', 'review-rules', 'finance'],
} as const satisfies Record<string, readonly string[]>;

export type Module = keyof typeof MODULES;
export type Resource<M extends Module = Module> = (typeof MODULES)[M][number];
export type Permission = { [M in Module]: `${M}.${(typeof MODULES)[M][number]}.${Operation}` }[Module];

export const DATA_SCOPES = ['own', 'team', 'organization'] as const;
export type DataScope = (typeof DATA_SCOPES)[number];

/** Wider scopes include narrower ones: organization ⊇ team ⊇ own. */
export function widerScope(a: DataScope, b: DataScope): DataScope {
  return DATA_SCOPES.indexOf(a) >= DATA_SCOPES.indexOf(b) ? a : b;
}

const SEGMENT = /^[a-z*][a-z-]*$/;

/** Every permission the catalogue knows, in a stable order. */
export const PERMISSIONS: readonly Permission[] = Object.entries(MODULES).flatMap(([module, resources]) =>
  resources.flatMap((resource) => OPERATIONS.map((op) => `${module}.${resource}.${op}` as Permission)),
);
const KNOWN = new Set<string>(PERMISSIONS);

export function isPermission(value: string): value is Permission {
  return KNOWN.has(value);
}

/**
 * A grant names one permission or a pattern with `*` for a whole segment:
 * `collection.*.view`, `publishing.articles.*`. A pattern is valid when it
 * matches at least one permission of the catalogue.
 */
export function isPermissionPattern(pattern: string): boolean {
  const parts = pattern.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p) && (p === '*' || !p.includes('*')))) return false;
  return PERMISSIONS.some((p) => matchesPattern(pattern, p));
}

export function matchesPattern(pattern: string, permission: Permission): boolean {
  const want = pattern.split('.');
  const have = permission.split('.');
  return want.length === 3 && want.every((segment, i) => segment === '*' || segment === have[i]);
}
