/**
 * Turns passwords into the `$argon2id$…` PHC strings the User decider
 * stores, and checks them. The adapter is src/adapters/crypto/password-hasher.ts.
 */
export interface PasswordHasher {
  hash(plain: string): Promise<string>;
  /** false for a wrong password and for a hash that is not one of ours (never throws for those) */
  verify(hash: string, plain: string): Promise<boolean>;
}
