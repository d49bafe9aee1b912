import { isPermission, type Permission } from '../../write-model/access/permissions.js';
import type { OrganizationMembership } from '../ports/membership.js';
import { authorize, type Principal } from './policy.js';

/**
 * THE TABLE of docs/rbac.md: every signed-in route of the OpenAPI document
 * against the roles people hold, allow or deny, as the policy decides it.
 * `npm run rbac:table` writes it into the document from the running route
 * registry; tests/e2e/rbac-matrix.test.ts checks it is current and that the
 * API answers as it says.
 */

export type Verdict = 'allow' | 'deny';

export interface MatrixRole {
  /** the column's key (the test's user names) */
  key: string;
  title: string;
  principal: Principal;
}

const member = (roles: string[]): OrganizationMembership => ({
  organizationId: 'organization',
  roles,
  team: null,
  customRoles: {},
  mfaRequired: false,
  members: [],
});

const principal = (more: Partial<Principal>): Principal => ({
  userId: 'user',
  platformRole: 'user',
  credential: 'session',
  membership: null,
  mfaEnabled: false,
  ...more,
});

/** The table's columns: a user outside any organization, each built-in organization role, a platform admin (signed in with a session). */
export const MATRIX_ROLES: readonly MatrixRole[] = [
  { key: 'personal', title: 'personal user', principal: principal({}) },
  ...(['owner', 'admin', 'operator', 'reviewer', 'analyst', 'billing'] as const).map((role) => ({
    key: role,
    title: role,
    principal: principal({ membership: member([role]) }),
  })),
  { key: 'platform_admin', title: 'platform admin', principal: principal({ platformRole: 'admin' }) },
];

export interface MatrixRoute {
  method: string;
  /** OpenAPI form: /api/v1/things/{id} */
  path: string;
  permission: Permission;
}

export function verdict(role: MatrixRole, permission: Permission): Verdict {
  return authorize(role.principal, permission).allowed ? 'allow' : 'deny';
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
/** The OpenAPI security scheme of a session's access token, as the HTTP adapter names it. */
const SESSION_SCHEME = 'bearerAuth';

interface OpenApiDocument {
  paths?: Record<string, Record<string, { security?: unknown[]; 'x-permission'?: string } | undefined>>;
}

/** The signed-in routes of an OpenAPI document with their `x-permission`, in a stable order (throws for one without a permission). */
export function matrixRoutes(document: OpenApiDocument): MatrixRoute[] {
  const routes: MatrixRoute[] = [];
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method];
      // signed in: a session token may call it (the ops token of /readyz and /metrics is no principal)
      if (!operation?.security?.some((requirement) => typeof requirement === 'object' && requirement !== null && SESSION_SCHEME in requirement)) continue;
      const permission = operation['x-permission'];
      if (!permission || !isPermission(permission)) throw new Error(`${method.toUpperCase()} ${path}: a signed-in route without x-permission`);
      routes.push({ method: method.toUpperCase(), path, permission });
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || METHODS.indexOf(lower(a.method)) - METHODS.indexOf(lower(b.method)));
}

const lower = (method: string) => method.toLowerCase() as (typeof METHODS)[number];

export const TABLE_START = '<!-- rbac-table:start (npm run rbac:table writes what is between these lines) -->';
export const TABLE_END = '<!-- rbac-table:end -->';

/** A route's key in the table: `GET /api/v1/things/{id}`. */
export const routeKey = (route: Pick<MatrixRoute, 'method' | 'path'>) => `${route.method} ${route.path}`;

/** The table as markdown (without the markers). */
export function renderMatrix(routes: readonly MatrixRoute[]): string {
  const head = ['route', 'permission', ...MATRIX_ROLES.map((r) => r.title)];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const route of routes) {
    const cells = MATRIX_ROLES.map((role) => verdict(role, route.permission));
    lines.push(`| \`${routeKey(route)}\` | \`${route.permission}\` | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The document with its table replaced by this one (throws without the markers). */
export function withMatrix(markdown: string, routes: readonly MatrixRoute[]): string {
  const start = markdown.indexOf(TABLE_START);
  const end = markdown.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error('the document has no rbac-table markers');
  return `${markdown.slice(0, start + TABLE_START.length)}\n${renderMatrix(routes)}\n${markdown.slice(end)}`;
}

/** The table's rows as written in the document: route key → permission and one verdict per column. */
export function parseMatrix(markdown: string): Map<string, { permission: string; verdicts: string[] }> {
  const start = markdown.indexOf(TABLE_START);
  const end = markdown.indexOf(TABLE_END);
  const rows = new Map<string, { permission: string; verdicts: string[] }>();
  if (start < 0 || end < start) return rows;
  for (const line of markdown.slice(start, end).split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const route = /^`(.+)`$/.exec(cells[1] ?? '');
    if (!route) continue;
    rows.set(route[1]!, { permission: (cells[2] ?? '').replaceAll('`', ''), verdicts: cells.slice(3, 3 + MATRIX_ROLES.length) });
  }
  return rows;
}
