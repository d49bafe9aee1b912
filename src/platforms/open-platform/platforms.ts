/**
 * The open platforms articles are published to through an API, each with its
 * own OAuth 2.0 authorization server. What differs between them is data:
 * whether the authorization server takes PKCE (RFC 7636, S256) and the
 * scopes a publishing client asks for. Their endpoints are the same shape,
 * under `{OPEN_PLATFORM_URL}/{platform}` (see README.md in this folder).
 */
export interface OpenPlatformSpec {
  id: string;
  displayName: string;
  /** the authorization server takes (and requires) a PKCE S256 challenge */
  pkce: boolean;
  /** what a publishing client asks for (space-separated in the request) */
  scopes: readonly string[];
}

export const OPEN_PLATFORMS = [
  { id: 'baidu', displayName: '百度', pkce: true, scopes: ['basic', 'publish'] },
  { id: 'sohu', displayName: '搜狐', pkce: false, scopes: ['basic', 'publish'] },
  { id: 'netease', displayName: '网易', pkce: true, scopes: ['basic', 'publish'] },
] as const satisfies readonly OpenPlatformSpec[];

export type OpenPlatformId = (typeof OPEN_PLATFORMS)[number]['id'];

export const OPEN_PLATFORM_IDS: readonly OpenPlatformId[] = OPEN_PLATFORMS.map((p) => p.id);

export function openPlatformSpec(id: string): OpenPlatformSpec | undefined {
  return (OPEN_PLATFORMS as readonly OpenPlatformSpec[]).find((p) => p.id === id);
}

export function isOpenPlatformId(value: unknown): value is OpenPlatformId {
  return typeof value === 'string' && openPlatformSpec(value) !== undefined;
}
