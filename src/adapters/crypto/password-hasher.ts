import type { PasswordHasher } from '../../application/ports/password-hasher.js';
import type { Config } from '../../config.js';

type Argon2 = typeof import('argon2');

/** Loaded on first use, not at import: a process checks the binding first (argon2-binding.ts), as loading a bad one is a crash. */
let binding: Promise<Argon2> | undefined;
const argon2 = (): Promise<Argon2> => (binding ??= import('argon2').then((m) => ((m as { default?: Argon2 }).default ?? m) as Argon2));

export type { PasswordHasher } from '../../application/ports/password-hasher.js';

export interface Argon2idParams {
  /** KiB */
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's argon2id baseline (m=19 MiB, t=2, p=1): ~tens of ms per hash, bounded memory per login. */
export const OWASP_ARGON2ID: Argon2idParams = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export class Argon2idPasswordHasher implements PasswordHasher {
  // tests pass cheaper params; the params travel in the PHC string, so verify needs none
  constructor(private readonly params: Argon2idParams = OWASP_ARGON2ID) {}

  async hash(plain: string): Promise<string> {
    const a = await argon2();
    return a.hash(plain, { type: a.argon2id, ...this.params });
  }

  async verify(hash: string, plain: string): Promise<boolean> {
    // only argon2id: an argon2i/d hash in the store would mean someone wrote it around us
    if (!hash.startsWith('$argon2id$')) return false;
    const a = await argon2();
    try {
      return await a.verify(hash, plain);
    } catch {
      return false; // a malformed PHC string is a failed login, not a 500
    }
  }
}

/** Far too weak for real passwords: only so the test suites' many logins stay fast. */
export const TEST_ONLY_ARGON2ID: Argon2idParams = { memoryCost: 1_024, timeCost: 1, parallelism: 1 };

export function createPasswordHasher(config: Pick<Config, 'NODE_ENV'>): PasswordHasher {
  return new Argon2idPasswordHasher(config.NODE_ENV === 'test' ? TEST_ONLY_ARGON2ID : OWASP_ARGON2ID);
}
