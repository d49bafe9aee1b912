/**
 * A platform `base` URL (which may carry a path prefix: a sandbox, a fixture
 * server) joined with an absolute path. `new URL(path, base)` would drop the
 * prefix.
 */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}`;
}
