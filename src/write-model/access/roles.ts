import type { DataScope } from './permissions.js';

/** A role's grants: permission pattern → the widest data scope it reaches. */
export type Grants = Readonly<Record<string, DataScope>>;

/** The roles every organization has; custom roles are defined per organization. */
export const BUILT_IN_ORG_ROLES = ['owner', 'admin', 'operator', 'reviewer', 'analyst', 'billing'] as const;
export type BuiltInOrgRole = (typeof BUILT_IN_ORG_ROLES)[number];

const BUSINESS_MODULES = ['collection', 'publishing', 'billing', 'reports', 'messaging'] as const;
const everything = (scope: DataScope, modules: readonly string[] = BUSINESS_MODULES): Record<string, DataScope> =>
  Object.fromEntries(modules.map((m) => [`${m}.*.*`, scope]));

/** What each built-in organization role grants (a member's grants are the union of their roles'). */
export const BUILT_IN_ORG_GRANTS: Readonly<Record<BuiltInOrgRole, Grants>> = {
  owner: { ...everything('organization'), 'organization.*.*': 'organization' },
  admin: {
    ...everything('organization'),
    'organization.organizations.view': 'organization',
    'organization.organizations.edit': 'organization',
    'organization.members.*': 'organization',
    'organization.invitations.*': 'organization',
    'organization.roles.*': 'organization',
  },
  operator: {
    'collection.*.*': 'own',
    'collection.*.view': 'team',
    'publishing.articles.*': 'own',
    'publishing.media.*': 'own',
    'publishing.publications.*': 'own',
    // the dry run of the review rules on their own text, before publishing it
    'publishing.review-rules.run': 'own',
    'publishing.*.view': 'team',
    'messaging.*.view': 'own',
    'messaging.*.create': 'own',
    'messaging.*.run': 'own',
    'reports.statistics.view': 'own',
    'organization.organizations.view': 'organization',
    'organization.members.view': 'organization',
  },
  reviewer: {
    'publishing.*.view': 'organization',
    'publishing.reviews.approve': 'organization',
    'messaging.sms-batches.view': 'organization',
    'organization.organizations.view': 'organization',
    'organization.members.view': 'organization',
  },
  analyst: {
    'collection.*.view': 'organization',
    'publishing.*.view': 'organization',
    'messaging.*.view': 'organization',
    'reports.*.*': 'organization',
    'organization.organizations.view': 'organization',
    'organization.members.view': 'organization',
  },
  billing: {
    'billing.*.*': 'organization',
    'reports.statistics.view': 'organization',
    'organization.organizations.view': 'organization',
  },
};

/**
 * A user outside any organization: everything on their own resources but
 * deciding reviews (the only reviews in their scope are of their own
 * content, which nobody decides), and founding an organization.
 */
export const PERSONAL_GRANTS: Grants = {
  ...everything(
    'own',
    BUSINESS_MODULES.filter((m) => m !== 'publishing'),
  ),
  'publishing.articles.*': 'own',
  'publishing.media.*': 'own',
  'publishing.publications.*': 'own',
  'publishing.reviews.view': 'own',
  'publishing.review-rules.*': 'own',
  'organization.organizations.create': 'own',
};

/** Every signed-in user, in or out of an organization: their own account. */
export const ACCOUNT_GRANTS: Grants = {
  'account.*.*': 'own',
  // the organizations I am in, the invitations addressed to me, accepting or declining them
  'organization.organizations.view': 'own',
  'organization.invitations.view': 'own',
  'organization.invitations.approve': 'own',
};

/**
 * Platform operators: the separate scope, from the user's platform role (an
 * API key has none). The review routes are the publishing module's; which
 * reviews an operator reaches there is the platform queue's permission
 * (platform.reviews.*), whatever their organization roles.
 */
const REVIEW_ROUTES: Grants = { 'publishing.reviews.view': 'own', 'publishing.reviews.approve': 'own' };
export const PLATFORM_GRANTS: Readonly<Record<'admin' | 'reviewer', Grants>> = {
  admin: { 'platform.*.*': 'organization', ...REVIEW_ROUTES },
  reviewer: { 'platform.reviews.*': 'organization', 'platform.review-rules.view': 'organization', ...REVIEW_ROUTES },
};
