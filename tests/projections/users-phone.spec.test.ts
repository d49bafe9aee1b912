import knexFactory, { type Knex } from 'knex';
import { createHash, randomUUID } from 'node:crypto';
import { usersProjection } from '../../src/projections/users.js';
import { searchUsers } from '../../src/read-api/users.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and pairs: the same row either way. */
const BATCH_SIZES = [500, 1, 2];

describe('users-v1 projection: the phone number and the SMS factor (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (minute: number) => new Date(Date.UTC(2026, 11, 10, 0, minute)).toISOString();
  const CODE_HASH = createHash('sha256').update('phone-code').digest('hex');
  const PHONE = '+8613800138000';
  const COLUMNS = ['phone_e164', 'phone_verified_at', 'mfa_sms', 'mfa_totp', 'updated_at', 'revision'];

  const lifeOf = (userId: string) => {
    const e = (type: string, data: Record<string, unknown>) => recorded(`user-${userId}`, type, { userId, ...data });
    return [
      e('UserRegistered', { email: `${userId}@x.test`, passwordHash: '$argon2id$h', displayName: 'Ann', role: 'user', registeredAt: at(0) }),
      e('PhoneVerificationStarted', { phoneE164: PHONE, codeHash: CODE_HASH, expiresAt: at(11), startedAt: at(1) }),
      e('PhoneNumberVerified', { phoneE164: PHONE, verifiedAt: at(2) }),
      e('SmsMfaEnabled', { phoneE164: PHONE, enabledAt: at(3) }),
      e('MfaReset', { by: 'admin-1', reason: 'lost the phone', resetAt: at(4) }),
      e('SmsMfaEnabled', { phoneE164: PHONE, enabledAt: at(5) }),
      e('SmsMfaDisabled', { disabledAt: at(6) }),
      e('PhoneNumberRemoved', { phoneE164: PHONE, removedAt: at(7) }),
    ];
  };

  it('shows the verified number and the SMS factor as they come and go, in one batch or split', async () => {
    const userId = randomUUID();
    const events = lifeOf(userId);
    const rowAfter = async (n: number, expected: Record<string, unknown>) => {
      for (const batchSize of BATCH_SIZES) {
        await projectionSpec(knex, usersProjection, { batchSize })
          .given(events.slice(0, n))
          .then('users', { where: { id: userId }, columns: COLUMNS }, [expected]);
      }
    };
    const none = { phone_e164: null, phone_verified_at: null, mfa_sms: false, mfa_totp: 'off' };
    await rowAfter(2, { ...none, updated_at: at(0), revision: '1' });
    await rowAfter(3, { ...none, phone_e164: PHONE, phone_verified_at: new Date(at(2)), updated_at: at(2), revision: '2' });
    await rowAfter(4, { ...none, phone_e164: PHONE, phone_verified_at: new Date(at(2)), mfa_sms: true, updated_at: at(3), revision: '3' });
    await rowAfter(5, { ...none, phone_e164: PHONE, phone_verified_at: new Date(at(2)), updated_at: at(4), revision: '4' });
    await rowAfter(7, { ...none, phone_e164: PHONE, phone_verified_at: new Date(at(2)), updated_at: at(6), revision: '6' });
    await rowAfter(8, { ...none, updated_at: at(7), revision: '7' });
  });

  it("never copies a code's hash; the admin list counts SMS as a second factor", async () => {
    const on = randomUUID();
    const page = { page: 1, per_page: 10 };
    await projectionSpec(knex, usersProjection)
      .given(lifeOf(on).slice(0, 4))
      .thenQuery(
        async (tx) => ({
          leaked: JSON.stringify(await tx('users').where({ id: on }).first()).includes(CODE_HASH),
          enabled: (await searchUsers(tx, { q: on.slice(0, 20), mfaEnabled: true }, page)).items.map((u) => [u.mfa_enabled, u.mfa.sms, u.phone?.number]),
          notEnabled: (await searchUsers(tx, { q: on.slice(0, 20), mfaEnabled: false }, page)).items.length,
        }),
        { leaked: false, enabled: [[true, true, PHONE]], notEnabled: 0 },
      );
  });
});
