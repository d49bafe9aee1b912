import type { ServiceIdentifier } from 'inversify';
import type { Knex } from 'knex';
import type { Config } from './config.js';
import type { EventStore } from './event-store/index.js';
import type { Logger } from './logger.js';
import type { Registry } from './metrics.js';
import type { Redis } from './adapters/redis/redis.js';
import type { AccessTokens } from './adapters/auth/access-tokens.js';
import type { PasswordHasher } from './adapters/crypto/password-hasher.js';
import type { SecretBox } from './adapters/crypto/secret-box.js';
import type { Mailer } from './application/ports/mailer.js';
import type { MediaStorage } from './application/ports/media-storage.js';
import type { MembershipDirectory } from './application/ports/membership.js';
import type { LedgerCharges } from './application/ports/ledger.js';

/** Container keys. Typed, so `container.get(TOKENS.Knex)` is a Knex. */
export const TOKENS = {
  Config: Symbol('Config') as ServiceIdentifier<Config>,
  Logger: Symbol('Logger') as ServiceIdentifier<Logger>,
  Metrics: Symbol('Metrics') as ServiceIdentifier<Registry>,
  Knex: Symbol('Knex') as ServiceIdentifier<Knex>,
  EventStore: Symbol('EventStore') as ServiceIdentifier<EventStore>,
  Redis: Symbol('Redis') as ServiceIdentifier<Redis>,
  PasswordHasher: Symbol('PasswordHasher') as ServiceIdentifier<PasswordHasher>,
  AccessTokens: Symbol('AccessTokens') as ServiceIdentifier<AccessTokens>,
  SecretBox: Symbol('SecretBox') as ServiceIdentifier<SecretBox>,
  Mailer: Symbol('Mailer') as ServiceIdentifier<Mailer>,
  /** where uploaded media bytes are kept (MEDIA_STORAGE_URL) */
  MediaStorage: Symbol('MediaStorage') as ServiceIdentifier<MediaStorage>,
  /** a user's organization and roles, read from the event store (bound in src/container.ts) */
  MembershipDirectory: Symbol('MembershipDirectory') as ServiceIdentifier<MembershipDirectory>,
  /** metered charges to prepaid balances (bound in src/container.ts) */
  LedgerCharges: Symbol('LedgerCharges') as ServiceIdentifier<LedgerCharges>,
} as const;
