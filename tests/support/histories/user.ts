import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { userAggregate, type UserCommand, type UserRole } from '../../../src/write-model/user/index.js';
import { historySource, sequence } from './harness.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const argon = (salt: string, hash: string) => `$argon2id$v=19$m=65536,t=3,p=4$${salt}$${hash}`;
const later = (now: string, minutes: number) => new Date(Date.parse(now) + minutes * 60_000).toISOString();

/** Three passwords the account moves between (a change to the one in force is a no-op). */
const PASSWORDS = [argon('c2FsdHNhbHQx', 'Zmlyc3RoYXNo'), argon('c2FsdHNhbHQy', 'c2Vjb25kaGFzaA'), argon('c2FsdHNhbHQz', 'dGhpcmRoYXNo')] as const;
/** What an adapter that forgot to hash would pass (VALIDATION_ERROR). */
const CLEAR_PASSWORD = 'hunter2';
const CLEAR_TOKEN = 'reset-token-in-clear';

/** TOTP secrets as the secret box seals them, and the recovery-code sets the client was shown. */
const BOXES = [0, 1, 2].map((n) => ({ keyId: 'k1', iv: `aXYx${n}A==`, tag: `dGFn${n}A==`, ciphertext: `Y2lwaGVy${n}A==` }));
const codeSet = (set: string) => Array.from({ length: 10 }, (_, i) => sha(`code-${set}-${i}`));

/** u1 is the stream's user; u2 (rarely) is one the stream does not hold (NOT_FOUND). */
const who = fc.oneof({ arbitrary: fc.constant('u1'), weight: 9 }, { arbitrary: fc.constant('u2'), weight: 1 });
const unhashed = fc.oneof({ arbitrary: fc.constant(false), weight: 15 }, { arbitrary: fc.constant(true), weight: 1 });

/**
 * One user's life: registration (and its retries), profile edits, reset
 * requests and resets (with the token just requested, an older one or one
 * never issued), password changes from a session, role changes, suspensions
 * and reactivations — and now and then a secret in clear or another user id.
 */
export const userHistories = historySource(
  userAggregate,
  (() => {
    // the tokens the generated client was sent, newest last (reset on each new history: index 0)
    let issued: string[] = [];
    // whether the latest issued token is still pending, as far as the client knows
    let pending = false;
    // whether the history has sent its RegisterUser yet
    let opened = false;
    let suspended = false;
    // the box last enrolled and the code set last shown, as far as the client knows
    let enrolledBox = 0;
    let shownSet = 'a';
    // the phone codes sent, newest last
    let phoneCodes: string[] = [];
    return sequence(
      fc.record({
        kind: fc.oneof(
          {
            arbitrary: fc.constantFrom(
              'register',
              'profile',
              'profile',
              'profile',
              'requestReset',
              'requestReset',
              'reset',
              'reset',
              'change',
              'change',
              'role',
            ),
            weight: 22,
          },
          // the second factor: enrollments (some replaced), confirmations with the pending box or a stale one, recovery codes, regeneration, turning off
          { arbitrary: fc.constantFrom('totpStart', 'totpConfirm', 'totpConfirm', 'recovery', 'recovery', 'recovery', 'regenerate', 'totpOff'), weight: 14 },
          // the phone and the SMS factor: codes sent (to one of two numbers) and typed back (the latest, an older or a wrong one), removal, SMS on/off, an admin's reset
          { arbitrary: fc.constantFrom('phoneStart', 'phoneVerify', 'phoneVerify', 'phoneRemove', 'smsOn', 'smsOff', 'mfaReset'), weight: 8 },
          { arbitrary: fc.constant('suspend'), weight: 1 },
          { arbitrary: fc.constant('reactivate'), weight: 2 },
        ),
        who,
        unhashed,
        // every history opens with the command that creates the stream; one in ten after one other command first (NOT_FOUND)
        early: fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 }),
        email: fc.oneof(
          { arbitrary: fc.constant('ann@example.com'), weight: 12 },
          { arbitrary: fc.constantFrom('bob@example.com', ' Ann@Example.com'), weight: 1 },
        ),
        password: fc.constantFrom(0, 0, 1, 2),
        displayName: fc.oneof(
          { arbitrary: fc.constantFrom<string | undefined>(undefined, 'Ann', 'Ann L.', '安'), weight: 15 },
          { arbitrary: fc.constant<string | undefined>('   '), weight: 1 },
        ),
        avatarUrl: fc.constantFrom<string | null | undefined>(undefined, undefined, null, 'https://cdn.example.com/a/1.png', 'https://cdn.example.com/a/2.png'),
        timezone: fc.constantFrom<string | null | undefined>(undefined, undefined, null, 'Asia/Shanghai', 'Europe/Berlin'),
        username: fc.constantFrom<string | undefined>(undefined, undefined, 'ann', 'ann_l', 'Ann'),
        muted: fc.constantFrom<string | undefined>(undefined, undefined, 'quota_exceeded', 'payment_received', 'birthday'),
        role: fc.constantFrom<UserRole>('user', 'user', 'reviewer', 'admin'),
        // requestReset: a fresh token, or the pending one again (a no-op); reset: the latest, an older one, a never-issued one
        token: fc.constantFrom('latest', 'latest', 'latest', 'fresh', 'older', 'unknown'),
        ttl: fc.oneof({ arbitrary: fc.constantFrom(30, 60, 240, 1440), weight: 12 }, { arbitrary: fc.constant(-5), weight: 1 }),
        keep: fc.constantFrom<string | undefined>(undefined, 's1', 's1', 's2'),
        reason: fc.constantFrom('abuse', 'chargeback'),
        // while the client believes the user suspended, one command in three is an admin's reactivation
        relent: fc.constantFrom(false, false, true),
        // which box an enrollment seals / a confirmation names, which code set, which recovery code
        box: fc.constantFrom(0, 1, 2),
        codeSet: fc.constantFrom('a', 'b'),
        codeIndex: fc.integer({ min: 0, max: 10 }),
      }),
      (c, now, index): UserCommand => {
        if (index === 0) {
          issued = [];
          pending = false;
          opened = false;
          suspended = false;
          enrolledBox = 0;
          shownSet = 'a';
          phoneCodes = [];
        }
        // the stream is user-u1: its first commands are well-formed ones for u1
        const first = !opened;
        const opening = !opened && !(index === 0 && c.early);
        if (opening) opened = true;
        const userId = first ? 'u1' : c.who;
        // a reset follows a request (unless the token is an older or never-issued one): without one pending, request one
        const kind = opening
          ? 'register'
          : suspended && c.relent
            ? 'reactivate'
            : c.kind === 'reset' && !pending && c.token === 'latest'
              ? 'requestReset'
              : c.kind;
        const password = c.unhashed && !first ? CLEAR_PASSWORD : PASSWORDS[c.password]!;
        switch (kind) {
          case 'register':
            return {
              type: 'RegisterUser',
              userId,
              email: first ? 'ann@example.com' : c.email,
              passwordHash: password,
              displayName: first || c.displayName === undefined ? 'Ann' : c.displayName,
              role: c.role,
              now,
            };
          case 'profile':
            return {
              type: 'UpdateProfile',
              userId,
              ...(c.displayName !== undefined ? { displayName: c.displayName } : {}),
              ...(c.avatarUrl !== undefined ? { avatarUrl: c.avatarUrl } : {}),
              ...(c.timezone !== undefined ? { timezone: c.timezone } : {}),
              ...(c.username !== undefined ? { username: c.username } : {}),
              ...(c.muted !== undefined ? { notificationPreferences: { [c.muted]: { inApp: c.password === 0, mail: false } } } : {}),
              now,
            };
          case 'requestReset': {
            let token = issued.at(-1);
            if (token === undefined || c.token !== 'latest') {
              token = sha(`reset-${index}`);
              issued.push(token);
            }
            pending = true;
            return { type: 'RequestPasswordReset', userId, resetTokenHash: c.unhashed ? CLEAR_TOKEN : token, expiresAt: later(now, c.ttl), now };
          }
          case 'reset': {
            pending = false;
            const token =
              c.token === 'unknown' || issued.length === 0
                ? sha(`never-issued-${index}`)
                : c.token === 'older'
                  ? issued[Math.max(0, issued.length - 2)]!
                  : issued.at(-1)!;
            return { type: 'ResetPassword', userId, resetTokenHash: c.unhashed ? CLEAR_TOKEN : token, newPasswordHash: password, now };
          }
          case 'change':
            pending = false;
            return { type: 'ChangePassword', userId, newPasswordHash: password, ...(c.keep !== undefined ? { keepSessionId: c.keep } : {}), now };
          case 'role':
            return { type: 'ChangeRole', userId, role: c.role, now };
          case 'suspend':
            suspended = true;
            return { type: 'SuspendUser', userId, reason: c.reason, now };
          case 'reactivate':
            suspended = false;
            return { type: 'ReactivateUser', userId, now };
          case 'totpStart':
            if (c.unhashed) return { type: 'StartTotpEnrollment', userId, secret: 'JBSWY3DPEHPK3PXP' as never, now };
            enrolledBox = c.box;
            return { type: 'StartTotpEnrollment', userId, secret: BOXES[c.box]!, now };
          case 'totpConfirm':
            // mostly the box just enrolled; now and then a stale one (CONFLICT)
            shownSet = c.codeSet;
            return { type: 'ConfirmTotp', userId, secret: BOXES[c.token === 'older' ? c.box : enrolledBox]!, recoveryCodeHashes: codeSet(c.codeSet), now };
          case 'recovery':
            // index 10 is a code never issued
            return {
              type: 'UseRecoveryCode',
              userId,
              codeHash: c.unhashed ? CLEAR_TOKEN : sha(`code-${c.token === 'older' ? c.codeSet : shownSet}-${c.codeIndex}`),
              now,
            };
          case 'regenerate':
            shownSet = c.codeSet;
            return { type: 'RegenerateRecoveryCodes', userId, recoveryCodeHashes: codeSet(c.codeSet), now };
          case 'totpOff':
            return { type: 'DisableTotp', userId, via: c.password === 0 ? 'recovery_code' : 'totp', now };
          case 'phoneStart': {
            const code = sha(`phone-code-${index}`);
            phoneCodes.push(code);
            const phoneE164 = c.box === 2 ? '+8613900139000' : '+8613800138000';
            return { type: 'StartPhoneVerification', userId, phoneE164, codeHash: c.unhashed ? '123456' : code, expiresAt: later(now, c.ttl), now };
          }
          case 'phoneVerify': {
            const code =
              c.token === 'unknown' || phoneCodes.length === 0
                ? sha(`never-sent-${index}`)
                : c.token === 'older'
                  ? phoneCodes[Math.max(0, phoneCodes.length - 2)]!
                  : phoneCodes.at(-1)!;
            return { type: 'VerifyPhoneNumber', userId, codeHash: code, now };
          }
          case 'phoneRemove':
            return { type: 'RemovePhoneNumber', userId, now };
          case 'smsOn':
            return { type: 'EnableSmsMfa', userId, now };
          case 'smsOff':
            return { type: 'DisableSmsMfa', userId, now };
          case 'mfaReset':
            return { type: 'ResetMfa', userId, by: 'admin-1', reason: c.reason, now };
        }
      },
    );
  })(),
);
