import knexFactory, { type Knex } from 'knex';
import { createHash, randomUUID } from 'node:crypto';
import { usersProjection } from '../../src/projections/users.js';
import { searchUsers } from '../../src/read-api/users.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and pairs: the same row either way. */
const BATCH_SIZES = [500, 1, 2];

describe('users-v1 projection: the second factor (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (minute: number) => new Date(Date.UTC(2026, 11, 9, 0, minute)).toISOString();
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const codes = (set: string) => Array.from({ length: 10 }, (_, i) => sha(`${set}-${i}`));
  const SEALED = { keyId: 'k1', iv: 'aXYxMjM0NTY3ODk=', tag: 'dGFnMTIzNDU2Nzg5MDEyMw==', ciphertext: 'U0VDUkVUU0VDUkVU' };
  const COLUMNS = ['mfa_totp', 'mfa_recovery_codes_left', 'updated_at', 'revision'];

  const lifeOf = (userId: string) => {
    const e = (type: string, data: Record<string, unknown>) => recorded(`user-${userId}`, type, { userId, ...data });
    return [
      e('UserRegistered', { email: `${userId}@x.test`, passwordHash: '$argon2id$h', displayName: 'Ann', role: 'user', registeredAt: at(0) }),
      e('TotpEnrollmentStarted', { secret: SEALED, startedAt: at(1) }),
      e('TotpEnabled', { recoveryCodeHashes: codes('a'), enabledAt: at(2) }),
      e('RecoveryCodeUsed', { codeHash: codes('a')[0], recoveryCodesLeft: 9, usedAt: at(3) }),
      e('RecoveryCodeUsed', { codeHash: codes('a')[1], recoveryCodesLeft: 8, usedAt: at(4) }),
      e('RecoveryCodesRegenerated', { recoveryCodeHashes: codes('b'), regeneratedAt: at(5) }),
      e('RecoveryCodeUsed', { codeHash: codes('b')[0], recoveryCodesLeft: 9, usedAt: at(6) }),
      e('TotpDisabled', { via: 'totp', disabledAt: at(7) }),
    ];
  };

  it('shows off by default, pending, on with the codes left, and off again, in one batch or split', async () => {
    const userId = randomUUID();
    const events = lifeOf(userId);
    const rowAfter = async (n: number, expected: Record<string, unknown>) => {
      for (const batchSize of BATCH_SIZES) {
        await projectionSpec(knex, usersProjection, { batchSize })
          .given(events.slice(0, n))
          .then('users', { where: { id: userId }, columns: COLUMNS }, [expected]);
      }
    };
    await rowAfter(1, { mfa_totp: 'off', mfa_recovery_codes_left: 0, updated_at: at(0), revision: '0' });
    await rowAfter(2, { mfa_totp: 'pending', mfa_recovery_codes_left: 0, updated_at: at(1), revision: '1' });
    await rowAfter(5, { mfa_totp: 'on', mfa_recovery_codes_left: 8, updated_at: at(4), revision: '4' });
    await rowAfter(7, { mfa_totp: 'on', mfa_recovery_codes_left: 9, updated_at: at(6), revision: '6' });
    await rowAfter(8, { mfa_totp: 'off', mfa_recovery_codes_left: 0, updated_at: at(7), revision: '7' });
  });

  it('registers users who start a second factor in the same batch beside users who do not (every new row with every column)', async () => {
    const [plain, enrolled, other] = [randomUUID(), randomUUID(), randomUUID()];
    const registered = (userId: string) => lifeOf(userId)[0]!;
    await projectionSpec(knex, usersProjection)
      .given([registered(plain), ...lifeOf(enrolled).slice(0, 2), registered(other)])
      .thenQuery(
        async (tx) =>
          Object.fromEntries(
            (await tx('users').whereIn('id', [plain, enrolled, other]).select('id', 'mfa_totp', 'mfa_sms')).map((r) => [r.id, [r.mfa_totp, r.mfa_sms]]),
          ),
        { [plain]: ['off', false], [enrolled]: ['pending', false], [other]: ['off', false] },
      );
  });

  it('never copies the sealed secret or a code hash into the row', async () => {
    const userId = randomUUID();
    await projectionSpec(knex, usersProjection)
      .given(lifeOf(userId).slice(0, 4))
      .thenQuery(async (tx) => {
        const row = JSON.stringify(await tx('users').where({ id: userId }).first());
        return [SEALED.ciphertext, SEALED.iv, SEALED.tag, ...codes('a')].filter((secret) => row.includes(secret)).length + (row.includes('"on"') ? 0 : 100);
      }, 0);
  });

  it('lets the admin list filter and show mfa_enabled', async () => {
    const on = randomUUID();
    const off = randomUUID();
    const page = { page: 1, per_page: 10 };
    await projectionSpec(knex, usersProjection)
      .given([...lifeOf(on).slice(0, 3), ...lifeOf(off).slice(0, 2)])
      .thenQuery(
        async (tx) => ({
          enabled: (await searchUsers(tx, { q: on.slice(0, 20), mfaEnabled: true }, page)).items.map((u) => [u.id, u.mfa_enabled, u.mfa]),
          notEnabled: (await searchUsers(tx, { q: off.slice(0, 20), mfaEnabled: false }, page)).items.map((u) => [u.id, u.mfa_enabled, u.mfa.totp]),
          offAsEnabled: (await searchUsers(tx, { q: off.slice(0, 20), mfaEnabled: true }, page)).items.length,
        }),
        { enabled: [[on, true, { totp: 'on', recovery_codes_left: 10, sms: false }]], notEnabled: [[off, false, 'pending']], offAsEnabled: 0 },
      );
  });
});
