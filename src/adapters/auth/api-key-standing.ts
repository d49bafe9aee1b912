import { currentPlans } from '../../application/api-keys.js';
import { includesApiAccess } from '../../application/plan-gates.js';
import type { EventStore } from '../../event-store/port.js';
import { apiKeyAggregate, isApiKeyLive, type ApiKeyScope, type ApiKeyState } from '../../write-model/api-key/index.js';
import { load } from '../../write-model/core/command-handler.js';
import { userAggregate } from '../../write-model/user/decider.js';
import type { UserState } from '../../write-model/user/state.js';
import { apiKeyTokenMatches, parseApiKeyToken } from './api-key-tokens.js';

/** Why a presented API key does not authenticate: 401 for the key or its user, 403 for the plan. */
export type ApiKeyRefusal = 'malformed' | 'no_key' | 'secret_mismatch' | 'key_revoked' | 'key_expired' | 'no_user' | 'user_suspended' | 'no_api_access';

export type ApiKeyCheck =
  | { ok: true; keyId: string; userId: string; scopes: readonly ApiKeyScope[] }
  | { ok: false; reason: ApiKeyRefusal; plans?: Record<string, string> };

interface Read {
  key: ApiKeyState;
  user: UserState | null;
  apiAccess: boolean;
  plans: Record<string, string>;
}

export interface ApiKeyStandingOptions {
  /** how long what was read for a key is reused (default 1000 ms: a revocation, suspension or plan change is in force within it) */
  ttlMs?: number;
  /** most keys remembered at once (oldest forgotten first) */
  maxEntries?: number;
}

/**
 * Whether a presented API key may act, read from the sources of truth (no
 * projection lag): the key's stream (revoked? expired?), its user's
 * (suspended?) and the user's subscriptions (does a plan still include API
 * access?). What was read is kept per key for `ttlMs`, so a busy key costs
 * four stream reads a second at most and every change is in force within
 * that second. The presented token is compared with the stored hash on every
 * request (constant time): a wrong secret never rides on a kept answer.
 */
export class ApiKeyStanding {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly reads = new Map<string, { at: number; read: Promise<Read> }>();

  constructor(
    private readonly store: EventStore,
    options: ApiKeyStandingOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 1_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  async check(token: string, nowMs = Date.now()): Promise<ApiKeyCheck> {
    const parsed = parseApiKeyToken(token);
    if (!parsed) return { ok: false, reason: 'malformed' };
    const { key, user, apiAccess, plans } = await this.readKey(parsed.keyId);
    if (key.status === 'none') return { ok: false, reason: 'no_key' };
    if (!apiKeyTokenMatches(token, key.secretHash)) return { ok: false, reason: 'secret_mismatch' };
    if (key.status === 'revoked') return { ok: false, reason: 'key_revoked' };
    if (!isApiKeyLive(key, nowMs)) return { ok: false, reason: 'key_expired' };
    if (user === null || user.account === null) return { ok: false, reason: 'no_user' };
    if (user.status === 'suspended') return { ok: false, reason: 'user_suspended' };
    if (!apiAccess) return { ok: false, reason: 'no_api_access', plans };
    return { ok: true, keyId: key.keyId, userId: key.userId, scopes: key.scopes };
  }

  private readKey(keyId: string): Promise<Read> {
    const now = Date.now();
    const kept = this.reads.get(keyId);
    if (kept && now - kept.at < this.ttlMs) return kept.read;
    const read = this.read(keyId);
    this.reads.delete(keyId);
    this.reads.set(keyId, { at: now, read });
    // a failed read is not remembered
    read.catch(() => this.reads.delete(keyId));
    if (this.reads.size > this.maxEntries) this.reads.delete(this.reads.keys().next().value!);
    return read;
  }

  private async read(keyId: string): Promise<Read> {
    const { state: key } = await load(this.store, apiKeyAggregate, keyId);
    if (key.status === 'none') return { key, user: null, apiAccess: false, plans: {} };
    const [{ state: user }, plans] = await Promise.all([load(this.store, userAggregate, key.userId), currentPlans(this.store, key.userId)]);
    return { key, user, apiAccess: plans.some(includesApiAccess), plans: Object.fromEntries(plans.map((p) => [p.service, p.code])) };
  }
}
