import { expect } from 'chai';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { createHash, randomInt, randomUUID } from 'node:crypto';
import type { PasswordHasher } from '../../src/adapters/crypto/password-hasher.js';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { createMailWorker } from '../../src/adapters/queue/mail-queue.js';
import { QUEUE_NAMES, QueueFactory } from '../../src/adapters/queue/queues.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { generateMerchant, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import type { ConfigVariable } from '../../src/config.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { createEndSessions, SESSION_INDEX_TABLE, SESSION_REVOCATIONS_TABLE } from '../../src/process-managers/end-sessions.js';
import { usersProjection } from '../../src/projections/users.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { userAggregate } from '../../src/write-model/user/decider.js';
import { emailReservationAggregate } from '../../src/write-model/user/email-reservation.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';

interface Envelope {
  success: boolean;
  data?: any;
  error?: { code: string; message: string; details: any };
}

interface Reply {
  res: Response;
  body: Envelope;
  text: string;
}

interface AuthApi {
  url: string;
  container: Container;
  knex: Knex;
  store: EventStore;
  sink: SmtpSink;
  /** every response body the tests received: checked for secrets at the end */
  seen: string[];
  call(method: string, path: string, options?: { body?: unknown; token?: string; headers?: Record<string, string> }): Promise<Reply>;
  stop(): Promise<void>;
}

/** The keys the login limiter counts 127.0.0.1 under (Koa's ctx.ip may be the v4-mapped form). */
const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);

/**
 * The real api app from the container on a real socket, the users projection
 * running in-process, and an SMTP sink as the mail relay.
 */
async function startAuthApi(
  overrides: Partial<Record<ConfigVariable, string>> = {},
  options: { hashed?: () => void; forwardedFor?: () => string } = {},
): Promise<AuthApi> {
  const sink = await new SmtpSink().start();
  const config = testConfig({ SMTP_URL: sink.url, LOGIN_RATE_LIMIT_PER_IP: '10000', QUEUE_PREFIX: `test-auth-${randomUUID().slice(0, 8)}`, ...overrides });
  const container: Container = await buildContainer(config);
  if (options.hashed) {
    // the real hasher, telling the test each time it hashes
    const real: PasswordHasher = container.get(TOKENS.PasswordHasher);
    const counted: PasswordHasher = { hash: (plain) => (options.hashed!(), real.hash(plain)), verify: (hash, plain) => real.verify(hash, plain) };
    await container.unbind(TOKENS.PasswordHasher);
    container.bind(TOKENS.PasswordHasher).toConstantValue(counted);
  }
  const store: EventStore = container.get(TOKENS.EventStore);
  const knex = container.get(TOKENS.Knex);
  const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, usersProjection, { idleCheckpointMs: 100, lockRetryMs: 100 });
  runner.start();
  // the process manager that records the end of the sessions a password reset revokes (a name of its own: no other test's checkpoint)
  const endSessions = `pm-end-sessions-auth-e2e-${randomUUID().slice(0, 8)}`;
  await resetCheckpoint(knex, endSessions, await store.headPosition()); // this test's events only
  const pmRunner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, createEndSessions({ store }, endSessions), {
    idleCheckpointMs: 100,
    lockRetryMs: 100,
  });
  pmRunner.start();
  const running: RunningServer = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  // the worker's mail processor, in-process: it sends the reset and verification links the API queues
  const mailWorker = createMailWorker(new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX }), {
    store,
    mailer: container.get(TOKENS.Mailer),
    verification: { secretBox: container.get(TOKENS.SecretBox), webUrl: config.PUBLIC_WEB_URL, ttlMinutes: config.EMAIL_VERIFICATION_TTL_HOURS * 60 },
    reset: { secretBox: container.get(TOKENS.SecretBox), webUrl: config.PUBLIC_WEB_URL, ttlMinutes: config.PASSWORD_RESET_TTL_MINUTES },
  });
  const seen: string[] = [];
  const forwardedFor = options.forwardedFor;
  return {
    url: running.url,
    container,
    knex,
    store,
    sink,
    seen,
    async call(method, path, options = {}) {
      // behind a trusted proxy: a client address of the test's choosing unless the call names one
      const headers: Record<string, string> = { ...(forwardedFor ? { 'X-Forwarded-For': forwardedFor() } : {}), ...options.headers };
      if (options.body !== undefined) headers['Content-Type'] = 'application/json';
      if (options.token) headers.Authorization = `Bearer ${options.token}`;
      const res = await fetch(`${running.url}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      const text = await res.text();
      seen.push(text);
      return { res, body: JSON.parse(text) as Envelope, text };
    },
    async stop() {
      await closeServer(running.server);
      await mailWorker.close();
      await runner.stop();
      await pmRunner.stop();
      await knex('consumer_checkpoints').where({ consumer: endSessions }).delete();
      await knex(SESSION_INDEX_TABLE).where({ consumer: endSessions }).delete();
      await knex(SESSION_REVOCATIONS_TABLE).where({ consumer: endSessions }).delete();
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
      await sink.stop();
    },
  };
}

const PASSWORD = 'correct horse battery';
const uniqueEmail = (name: string) => `${name}-${randomUUID()}@example.test`;

async function register(api: AuthApi, email: string, password = PASSWORD, displayName = 'Ada'): Promise<Reply> {
  return api.call('POST', '/api/v1/auth/register', { body: { email, password, display_name: displayName } });
}

async function login(api: AuthApi, email: string, password = PASSWORD): Promise<Reply> {
  return api.call('POST', '/api/v1/auth/login', { body: { email, password } });
}

async function signUp(api: AuthApi, name: string): Promise<{ email: string; userId: string; tokens: any }> {
  const email = uniqueEmail(name);
  const registered = await register(api, email);
  expect(registered.res.status, registered.text).to.equal(201);
  const loggedIn = await login(api, email);
  expect(loggedIn.res.status, loggedIn.text).to.equal(200);
  return { email, userId: registered.body.data.user_id, tokens: loggedIn.body.data };
}

describe('identity: users and sessions (e2e)', () => {
  let api: AuthApi;
  const refreshTokens: string[] = [];
  const userIds: string[] = [];

  before(async () => {
    api = await startAuthApi();
  });
  after(async () => {
    await api?.stop();
  });

  it('registers with a normalised email, refuses a taken one with 409 and bad input with 422', async () => {
    const email = uniqueEmail('Reg');
    const first = await register(api, `  ${email.toUpperCase()} `);
    expect(first.res.status, first.text).to.equal(201);
    expect(first.body.data.user_id).to.match(/^[0-9a-f-]{36}$/);
    expect(first.body.data.position).to.match(/^\d+-\d+$/);
    userIds.push(first.body.data.user_id);

    const again = await register(api, email, 'another password');
    expect(again.res.status).to.equal(409);
    expect(again.body.error?.code).to.equal('CONFLICT');
    expect(again.text).not.to.include(first.body.data.user_id);

    const short = await register(api, uniqueEmail('short'), 'short');
    expect(short.res.status).to.equal(422);
    expect(short.body.error?.code).to.equal('VALIDATION_ERROR');
    const notEmail = await register(api, 'not-an-email', PASSWORD);
    expect(notEmail.res.status).to.equal(422);
    const noName = await api.call('POST', '/api/v1/auth/register', { body: { email: uniqueEmail('x'), password: PASSWORD } });
    expect(noName.res.status).to.equal(422);

    const loggedIn = await login(api, email.toUpperCase());
    expect(loggedIn.res.status, loggedIn.text).to.equal(200);
  });

  it('documents the email fields as emails in the OpenAPI document, surrounding spaces and case aside', async () => {
    const doc = (await api.call('GET', '/api/v1/openapi.json')).body as unknown as { paths: Record<string, any> };
    const bodyOf = (path: string) => doc.paths[path].post.requestBody.content['application/json'].schema;
    expect(bodyOf('/api/v1/auth/register').properties.email).to.include({ type: 'string', format: 'email', maxLength: 254 });
    expect(bodyOf('/api/v1/auth/forgot-password').properties.email).to.include({ format: 'email' });
  });

  it('refuses text no store can keep (NUL, an unpaired surrogate) with 422 naming where, in body, query and path, and writes nothing', async () => {
    const email = uniqueEmail('nul');
    const nul = await api.call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: 'Ada\u0000Lovelace' } });
    expect(nul.res.status, nul.text).to.equal(422);
    expect(nul.body.error?.code).to.equal('VALIDATION_ERROR');
    expect(nul.body.error?.details.issues).to.deep.equal([
      { in: 'body', path: ['display_name'], message: 'must not contain NUL (U+0000)', code: 'invalid_text' },
    ]);
    // JSON can carry half a surrogate pair as an escape; so can a password (hashed, it would never reach a store: refused all the same)
    const surrogate = await api.call('POST', '/api/v1/auth/register', { body: { email, password: `${PASSWORD}\ud800`, display_name: 'Ada' } });
    expect(surrogate.res.status, surrogate.text).to.equal(422);
    expect(surrogate.body.error?.details.issues[0]).to.include({ in: 'body', message: 'must be valid Unicode (an unpaired surrogate is not)' });
    const key = await api.call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: 'Ada', ['x\u0000']: 1 } });
    expect(key.res.status, key.text).to.equal(422);
    // nothing was reserved by the refused attempts: the email is still free
    const fine = await register(api, email);
    expect(fine.res.status, fine.text).to.equal(201);
    userIds.push(fine.body.data.user_id);

    const { tokens } = await signUp(api, 'nul-reader');
    const query = await api.call('GET', '/api/v1/users/sessions?cursor=%00', { token: tokens.access_token });
    expect(query.res.status, query.text).to.equal(422);
    expect(query.body.error?.details.issues[0]).to.include({ in: 'query' });
    const path = await api.call('DELETE', '/api/v1/users/sessions/a%00b', { token: tokens.access_token });
    expect(path.res.status, path.text).to.equal(422);
    expect(path.body.error?.details.issues[0]).to.include({ in: 'params' });
  });

  it('completes a registration whose email was reserved by a crashed attempt, under the reserved id', async () => {
    const email = uniqueEmail('crashed');
    const emailHash = createHash('sha256').update(email, 'utf8').digest('hex');
    const reservedId = randomUUID();
    await handle(
      api.store,
      emailReservationAggregate,
      emailHash,
      { type: 'ReserveEmail', emailHash, userId: reservedId },
      {
        context: { correlationId: 'test', causationId: 'test' },
      },
    );
    const done = await register(api, email);
    expect(done.res.status, done.text).to.equal(201);
    expect(done.body.data.user_id).to.equal(reservedId);
    expect((await register(api, email)).res.status).to.equal(409);
    expect((await login(api, email)).res.status).to.equal(200);
  });

  it('answers a wrong password and an unknown email with the same 401', async () => {
    const { email } = await signUp(api, 'wrong');
    const wrong = await login(api, email, 'not the password');
    expect(wrong.res.status).to.equal(401);
    expect(wrong.body.error?.code).to.equal('UNAUTHENTICATED');
    const unknown = await login(api, uniqueEmail('nobody'));
    expect(unknown.res.status).to.equal(401);
    expect(unknown.body.error?.message).to.equal(wrong.body.error?.message);
    const noToken = await api.call('GET', '/api/v1/users/profile');
    expect(noToken.res.status).to.equal(401);
    expect(noToken.body.error?.code).to.equal('UNAUTHENTICATED');
    const badToken = await api.call('GET', '/api/v1/users/profile', { token: 'a.b.c' });
    expect(badToken.res.status).to.equal(401);
  });

  it('logs in, reads the profile after the write, updates it with If-Match', async () => {
    const { userId, tokens } = await signUp(api, 'profile');
    userIds.push(userId);
    refreshTokens.push(tokens.refresh_token);
    expect(tokens).to.include({ token_type: 'Bearer', expires_in: 900, user_id: userId });
    expect(tokens.access_token).to.be.a('string');
    expect(tokens.session_id).to.match(/^[0-9a-f-]{36}$/);

    const read = await api.call('GET', `/api/v1/users/profile?after_position=${tokens.position}`, { token: tokens.access_token });
    expect(read.res.status, read.text).to.equal(200);
    expect(read.res.headers.get('x-projection-lag')).to.equal(null);
    expect(read.body.data).to.include({ id: userId, display_name: 'Ada', role: 'user', status: 'active', avatar_url: null, timezone: null });
    expect(read.body.data).to.not.have.property('password_hash');
    const etag = read.res.headers.get('etag')!;
    expect(etag).to.match(/^"\d+"$/);

    const update = await api.call('PUT', '/api/v1/users/profile', {
      token: tokens.access_token,
      headers: { 'If-Match': etag },
      body: { display_name: 'Ada L.', timezone: 'Europe/Berlin', avatar_url: 'https://example.test/a.png' },
    });
    expect(update.res.status, update.text).to.equal(200);
    const stale = await api.call('PUT', '/api/v1/users/profile', { token: tokens.access_token, headers: { 'If-Match': etag }, body: { display_name: 'Nope' } });
    expect(stale.res.status).to.equal(412);
    const badZone = await api.call('PUT', '/api/v1/users/profile', { token: tokens.access_token, body: { timezone: 'Mars/Olympus' } });
    expect(badZone.res.status).to.equal(422);

    const after = await api.call('GET', `/api/v1/users/profile?after_position=${update.body.data.position}`, { token: tokens.access_token });
    expect(after.body.data).to.include({ display_name: 'Ada L.', timezone: 'Europe/Berlin', avatar_url: 'https://example.test/a.png' });
    expect(after.res.headers.get('etag')).to.equal(update.res.headers.get('etag'));

    // markup characters in an avatar URL are stored percent-encoded, never raw; credentials in it are refused
    const hostile = await api.call('PUT', '/api/v1/users/profile', {
      token: tokens.access_token,
      body: { avatar_url: 'https://cdn.example.test/a"><script>x</script>.png' },
    });
    expect(hostile.res.status, hostile.text).to.equal(200);
    const stored = await api.call('GET', `/api/v1/users/profile?after_position=${hostile.body.data.position}`, { token: tokens.access_token });
    expect(stored.body.data.avatar_url).to.equal('https://cdn.example.test/a%22%3E%3Cscript%3Ex%3C/script%3E.png');
    const withCredentials = await api.call('PUT', '/api/v1/users/profile', {
      token: tokens.access_token,
      body: { avatar_url: 'https://user:pw@cdn.example.test/a.png' },
    });
    expect(withCredentials.res.status).to.equal(422);
    // what is not a URL at all is a 422 naming the field, never a 500
    for (const avatar_url of ['not a url', 'https://', '\u{91423}\u{73da1}']) {
      const notUrl = await api.call('PUT', '/api/v1/users/profile', { token: tokens.access_token, body: { avatar_url } });
      expect(notUrl.res.status, `${avatar_url}: ${notUrl.text}`).to.equal(422);
      expect(notUrl.body.error?.details.issues.map((i: { path: string[] }) => i.path.join('.'))).to.deep.equal(['avatar_url']);
    }
  });

  it('rotates refresh tokens; reusing a rotated one ends the session, the newest token stops working too', async () => {
    const { email, tokens } = await signUp(api, 'rotate');
    const first = tokens.refresh_token as string;
    const rotated = await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: first } });
    expect(rotated.res.status, rotated.text).to.equal(200);
    const second = rotated.body.data.refresh_token as string;
    expect(second).to.not.equal(first);
    expect(rotated.body.data.session_id).to.equal(tokens.session_id);
    refreshTokens.push(first, second);

    const me = await api.call('GET', '/api/v1/users/profile', { token: rotated.body.data.access_token });
    expect(me.res.status).to.be.oneOf([200, 404]); // the new access token is accepted (404 only if the view lags)

    const reuse = await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: first } });
    expect(reuse.res.status).to.equal(401);
    expect(reuse.body.error?.code).to.equal('UNAUTHENTICATED');
    const newest = await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: second } });
    expect(newest.res.status).to.equal(401);

    const garbage = await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: 'garbage' } });
    expect(garbage.res.status).to.equal(401);

    const again = await login(api, email);
    const sessions = await api.call('GET', `/api/v1/users/sessions?after_position=${again.body.data.position}`, { token: again.body.data.access_token });
    const ended = sessions.body.data.items.find((s: any) => s.id === tokens.session_id);
    expect(ended).to.include({ end_reason: 'refresh_token_reuse' });
    expect(ended.ended_at).to.be.a('string');
  });

  it('logout ends the session: its refresh token is refused', async () => {
    const { tokens } = await signUp(api, 'logout');
    refreshTokens.push(tokens.refresh_token);
    const out = await api.call('POST', '/api/v1/auth/logout', { token: tokens.access_token });
    expect(out.res.status, out.text).to.equal(200);
    const refused = await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: tokens.refresh_token } });
    expect(refused.res.status).to.equal(401);
    const noAuth = await api.call('POST', '/api/v1/auth/logout');
    expect(noAuth.res.status).to.equal(401);
  });

  it('lists my sessions (paginated, no hashes) and deletes one; another user gets 404', async () => {
    const alice = await signUp(api, 'alice');
    const second = await login(api, alice.email);
    refreshTokens.push(alice.tokens.refresh_token, second.body.data.refresh_token);
    const bob = await signUp(api, 'bob');

    const list = await api.call('GET', `/api/v1/users/sessions?per_page=1&after_position=${second.body.data.position}`, {
      token: second.body.data.access_token,
    });
    expect(list.res.status, list.text).to.equal(200);
    expect(list.body.data.pagination).to.include({ page: 1, per_page: 1, total: 2, total_pages: 2, has_next: true, has_prev: false });
    expect(list.body.data.items).to.have.length(1);
    expect(list.body.data.items[0]).to.include({ id: second.body.data.session_id, current: true, ip: list.body.data.items[0].ip });
    expect(Object.keys(list.body.data.items[0]).some((k) => /hash|token/i.test(k))).to.equal(false);

    const bobsView = await api.call('GET', `/api/v1/users/sessions?after_position=${bob.tokens.position}`, { token: bob.tokens.access_token });
    expect(bobsView.body.data.items.map((s: any) => s.id)).to.deep.equal([bob.tokens.session_id]);

    const stolen = await api.call('DELETE', `/api/v1/users/sessions/${alice.tokens.session_id}`, { token: bob.tokens.access_token });
    expect(stolen.res.status).to.equal(404);
    expect(stolen.body.error?.code).to.equal('NOT_FOUND');

    const deleted = await api.call('DELETE', `/api/v1/users/sessions/${alice.tokens.session_id}`, { token: second.body.data.access_token });
    expect(deleted.res.status, deleted.text).to.equal(200);
    const refused = await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: alice.tokens.refresh_token } });
    expect(refused.res.status).to.equal(401);
    const stillFine = await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: second.body.data.refresh_token } });
    expect(stillFine.res.status).to.equal(200);
    refreshTokens.push(stillFine.body.data.refresh_token);

    const after = await api.call('GET', `/api/v1/users/sessions?after_position=${deleted.body.data.position}`, { token: second.body.data.access_token });
    expect(after.body.data.items.find((s: any) => s.id === alice.tokens.session_id)).to.include({ end_reason: 'revoked' });
  });

  it('forgot / reset password: always 202, a mailed single-use link, then the new password works', async () => {
    const { email, tokens } = await signUp(api, 'forgot');
    refreshTokens.push(tokens.refresh_token);

    const unknown = await api.call('POST', '/api/v1/auth/forgot-password', { body: { email: uniqueEmail('ghost') } });
    expect(unknown.res.status).to.equal(202);
    const known = await api.call('POST', '/api/v1/auth/forgot-password', { body: { email } });
    expect(known.res.status).to.equal(202);
    expect(known.text).to.equal(known.text.replace(/token/g, '')); // nothing about a token in the answer

    const mail = await api.sink.waitForMessage((m) => m.envelope.to.includes(email));
    const link = /http:\/\/localhost:3000\/reset-password\?token=(\S+)/.exec(mail.parsed.text ?? '');
    expect(link, mail.parsed.text).to.not.equal(null);
    const token = decodeURIComponent(link![1]!);

    const weak = await api.call('POST', '/api/v1/auth/reset-password', { body: { token, new_password: 'short' } });
    expect(weak.res.status).to.equal(422);
    const bad = await api.call('POST', '/api/v1/auth/reset-password', { body: { token: `${token}x`, new_password: 'brand new password' } });
    expect(bad.res.status).to.equal(401);
    const reset = await api.call('POST', '/api/v1/auth/reset-password', { body: { token, new_password: 'brand new password' } });
    expect(reset.res.status, reset.text).to.equal(200);
    const used = await api.call('POST', '/api/v1/auth/reset-password', { body: { token, new_password: 'another new password' } });
    expect(used.res.status).to.equal(401);

    expect((await login(api, email)).res.status).to.equal(401);
    const fresh = await login(api, email, 'brand new password');
    expect(fresh.res.status, fresh.text).to.equal(200);
    refreshTokens.push(fresh.body.data.refresh_token);
    // the reset ended the sessions that were open: refused at once, and recorded by the process manager
    expect((await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: tokens.refresh_token } })).res.status).to.equal(401);
    const access = fresh.body.data.access_token as string;
    const endOf = async () =>
      (await api.call('GET', '/api/v1/users/sessions', { token: access })).body.data.items.find((s: any) => s.id === tokens.session_id)?.end_reason;
    await waitFor('the old session recorded as ended', async () => (await endOf()) === 'password_changed');
    // read your own write: the new login may land in $all after the process manager's SessionEnded
    const sessions = await api.call('GET', `/api/v1/users/sessions?after_position=${fresh.body.data.position}`, { token: access });
    expect(sessions.body.data.items.find((s: any) => s.id === fresh.body.data.session_id)).to.include({ ended_at: null });
  });

  it('the projection is idempotent: replaying a user stream and a session stream changes nothing', async () => {
    const { userId, tokens } = await signUp(api, 'replay');
    refreshTokens.push(tokens.refresh_token);
    const update = await api.call('PUT', '/api/v1/users/profile', { token: tokens.access_token, body: { display_name: 'Replayed' } });
    await api.call('GET', `/api/v1/users/profile?after_position=${update.body.data.position}`, { token: tokens.access_token });
    const snapshot = async () => ({
      user: await api.knex('users').where({ id: userId }).first(),
      sessions: await api.knex('user_sessions').where({ user_id: userId }).orderBy('id'),
    });
    const before = await snapshot();
    const events = [...(await api.store.readStream(`user-${userId}`)), ...(await api.store.readStream(`session-${tokens.session_id}`))];
    await api.knex.transaction((tx) => usersProjection.handle(events, { tx }));
    expect(await snapshot()).to.deep.equal(before);
    expect(before.user.display_name).to.equal('Replayed');
  });

  it("an access token stops working within a second of its session ending or its user's suspension; a role change is in force as fast", async () => {
    const within = async (what: string, token: string, path: string, status: number) => {
      await waitFor(what, async () => (await api.call('GET', path, { token })).res.status === status, 1_500, 50);
    };
    const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test-admin' };
    const now = () => new Date().toISOString();

    const loggedOut = await signUp(api, 'logout-token');
    userIds.push(loggedOut.userId);
    const access = loggedOut.tokens.access_token as string;
    expect((await api.call('GET', '/api/v1/users/sessions', { token: access })).res.status).to.equal(200);
    expect((await api.call('POST', '/api/v1/auth/logout', { token: access })).res.status).to.equal(200);
    await within('the logged-out token to be refused', access, '/api/v1/users/sessions', 401);

    const promoted = await signUp(api, 'promoted');
    userIds.push(promoted.userId);
    const token = promoted.tokens.access_token as string;
    expect((await api.call('GET', '/api/v1/admin/categories', { token })).res.status).to.equal(403);
    await handle(api.store, userAggregate, promoted.userId, { type: 'ChangeRole', userId: promoted.userId, role: 'admin', now: now() }, { context });
    await within('the promotion to count', token, '/api/v1/admin/categories', 200);
    await handle(api.store, userAggregate, promoted.userId, { type: 'ChangeRole', userId: promoted.userId, role: 'user', now: now() }, { context });
    await within('the demotion to count', token, '/api/v1/admin/categories', 403);

    await handle(api.store, userAggregate, promoted.userId, { type: 'SuspendUser', userId: promoted.userId, reason: 'test', now: now() }, { context });
    await within("the suspended user's token to be refused", token, '/api/v1/users/sessions', 401);
  });

  it('never shows a password or token hash: not in any response, not in the read tables', async () => {
    const { tokens } = await signUp(api, 'secrets');
    refreshTokens.push(tokens.refresh_token);
    // wait for the projection to include everything written so far
    await api.call('GET', `/api/v1/users/profile?after_position=${tokens.position}`, { token: tokens.access_token });

    const hashes = refreshTokens.map((t) => createHash('sha256').update(t, 'utf8').digest('hex'));
    const everything = api.seen.join('\n');
    expect(everything).to.not.include('$argon2');
    for (const hash of hashes) expect(everything).to.not.include(hash);

    const users = await api.knex('users').select('*');
    const sessions = await api.knex('user_sessions').select('*');
    const tables = JSON.stringify({ users, sessions });
    expect(tables).to.not.include('$argon2');
    for (const hash of hashes) expect(tables).to.not.include(hash);
    const columns = [...Object.keys(users[0] ?? {}), ...Object.keys(sessions[0] ?? {})];
    expect(columns.filter((c) => /hash|password|token/i.test(c))).to.deep.equal([]);
    expect(userIds.length).to.be.greaterThan(0);
  });
});

describe('identity: login rate limits (e2e)', () => {
  let api: AuthApi;
  before(async () => {
    api = await startAuthApi({ LOGIN_RATE_LIMIT_PER_ACCOUNT: '3', LOGIN_RATE_LIMIT_PER_IP: '6' });
  });
  after(async () => {
    await api?.stop();
  });

  async function clearIpCounters(): Promise<void> {
    const { Redis } = await import('ioredis');
    const { testRedisUrl } = await import('../setup/test-env.js');
    const redis = new Redis(testRedisUrl);
    try {
      await redis.del(...LOCAL_IP_KEYS);
    } finally {
      redis.disconnect();
    }
  }

  it('answers 429 RATE_LIMITED with Retry-After once an account has had its attempts', async () => {
    await clearIpCounters();
    const email = uniqueEmail('limited');
    expect((await register(api, email)).res.status).to.equal(201);
    for (let i = 0; i < 3; i++) expect((await login(api, email, 'wrong password')).res.status).to.equal(401);
    const limited = await login(api, email); // even the right password: the window is used up
    expect(limited.res.status).to.equal(429);
    expect(limited.body.error?.code).to.equal('RATE_LIMITED');
    const retryAfter = Number(limited.res.headers.get('retry-after'));
    expect(retryAfter).to.be.within(1, 60);
  });

  it('limits attempts per client IP across accounts', async () => {
    await clearIpCounters();
    for (let i = 0; i < 6; i++) expect((await login(api, uniqueEmail(`ip${i}`))).res.status).to.equal(401);
    const limited = await login(api, uniqueEmail('ip-last'));
    expect(limited.res.status).to.equal(429);
    expect(limited.res.headers.get('retry-after')).to.match(/^\d+$/);
    await clearIpCounters();
  });
});

describe('identity: limits on the other auth routes, behind a trusted proxy (e2e)', () => {
  let api: AuthApi;
  let hashes = 0;
  before(async () => {
    api = await startAuthApi(
      {
        TRUST_PROXY: 'loopback',
        LOGIN_RATE_LIMIT_PER_ACCOUNT: '3',
        AUTH_RATE_LIMIT_PER_IP: '3',
        AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY: '2',
        REFRESH_RATE_LIMIT_PER_SESSION: '2',
      },
      { hashed: () => hashes++, forwardedFor: () => freshIp() },
    );
  });
  after(async () => {
    await api?.stop();
  });

  /** A client at `ip`, as the trusted proxy on 127.0.0.1 reports it. */
  const from = (ip: string) => ({ 'X-Forwarded-For': ip });
  /** A client address of its own (random, so a run a minute after the last shares no per-IP count with it). */
  const freshIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

  it('forgot-password: two per email and hour, then 429 with Retry-After, alike for an address without an account; one or two mails, never three', async () => {
    const ip = freshIp();
    const email = uniqueEmail('flood');
    expect((await register(api, email)).res.status).to.equal(201);
    for (const address of [email, uniqueEmail('nobody')]) {
      for (let i = 0; i < 2; i++)
        expect((await api.call('POST', '/api/v1/auth/forgot-password', { body: { email: address }, headers: from(freshIp()) })).res.status).to.equal(202);
      const limited = await api.call('POST', '/api/v1/auth/forgot-password', { body: { email: address }, headers: from(ip) });
      expect(limited.res.status, limited.text).to.equal(429);
      expect(limited.body.error?.code).to.equal('RATE_LIMITED');
      expect(Number(limited.res.headers.get('retry-after'))).to.be.within(1, 3600);
    }
    // the second link supersedes the first: the first is mailed only if it left before the second was asked for
    const mails = () => api.sink.messages.filter((m) => m.parsed.to.includes(email));
    await waitFor('the reset mail', () => mails().length >= 1, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(mails().length).to.be.within(1, 2);
  });

  it('register: three per minute from one client IP; another IP is not held back', async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) {
      const ok = await api.call('POST', '/api/v1/auth/register', {
        body: { email: uniqueEmail(`ip${i}`), password: PASSWORD, display_name: 'Ada' },
        headers: from(ip),
      });
      expect(ok.res.status, ok.text).to.equal(201);
    }
    const limited = await api.call('POST', '/api/v1/auth/register', {
      body: { email: uniqueEmail('ip-4'), password: PASSWORD, display_name: 'Ada' },
      headers: from(ip),
    });
    expect(limited.res.status).to.equal(429);
    const elsewhere = await api.call('POST', '/api/v1/auth/register', {
      body: { email: uniqueEmail('ip-5'), password: PASSWORD, display_name: 'Ada' },
      headers: from(freshIp()),
    });
    expect(elsewhere.res.status).to.equal(201);
  });

  it("a stranger failing logins on someone's email is held back; the owner, from their own address, still signs in", async () => {
    const email = uniqueEmail('owner');
    expect((await register(api, email)).res.status).to.equal(201);
    const stranger = freshIp();
    for (let i = 0; i < 3; i++) {
      expect((await api.call('POST', '/api/v1/auth/login', { body: { email, password: 'guess' }, headers: from(stranger) })).res.status).to.equal(401);
    }
    expect((await api.call('POST', '/api/v1/auth/login', { body: { email, password: 'guess' }, headers: from(stranger) })).res.status).to.equal(429);
    const owner = await api.call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD }, headers: from(freshIp()) });
    expect(owner.res.status, owner.text).to.equal(200);
  });

  it('the client IP is the first untrusted hop from the right: what a caller writes at the left of X-Forwarded-For counts for nothing', async () => {
    const real = freshIp();
    for (let i = 0; i < 3; i++) {
      const spoofed = `203.0.113.${i + 1}, ${real}`;
      const ok = await api.call('POST', '/api/v1/auth/register', {
        body: { email: uniqueEmail(`spoof${i}`), password: PASSWORD, display_name: 'Ada' },
        headers: { 'X-Forwarded-For': spoofed },
      });
      expect(ok.res.status, ok.text).to.equal(201);
    }
    const limited = await api.call('POST', '/api/v1/auth/register', {
      body: { email: uniqueEmail('spoof-4'), password: PASSWORD, display_name: 'Ada' },
      headers: { 'X-Forwarded-For': `203.0.113.99, ${real}` },
    });
    expect(limited.res.status).to.equal(429);
  });

  it('reset-password: a wrong token is refused before the new password is hashed; per user, two tries an hour', async () => {
    const { userId } = await signUp(api, 'reset-limit');
    const before = hashes;
    const token = `${userId}.${'A'.repeat(43)}`;
    const ip = freshIp();
    for (let i = 0; i < 2; i++) {
      const wrong = await api.call('POST', '/api/v1/auth/reset-password', { body: { token, new_password: 'another good password' }, headers: from(ip) });
      expect(wrong.res.status, wrong.text).to.equal(401);
    }
    expect(hashes, 'nothing hashed for a wrong token').to.equal(before);
    const limited = await api.call('POST', '/api/v1/auth/reset-password', { body: { token, new_password: 'another good password' }, headers: from(freshIp()) });
    expect(limited.res.status).to.equal(429);
  });

  it('X-Forwarded-Proto: https from the trusted proxy makes the request secure: HSTS is sent', async () => {
    const res = await fetch(`${api.url}/healthz`, { headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': freshIp() } });
    expect(res.headers.get('strict-transport-security')).to.equal('max-age=31536000; includeSubDomains');
    const plain = await fetch(`${api.url}/healthz`);
    expect(plain.headers.get('strict-transport-security')).to.equal(null);
  });

  it('refresh: two per session and minute, then 429', async () => {
    const { tokens } = await signUp(api, 'refresh-limit');
    let refreshToken: string = tokens.refresh_token;
    for (let i = 0; i < 2; i++) {
      const ok = await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: refreshToken }, headers: from(freshIp()) });
      expect(ok.res.status, ok.text).to.equal(200);
      refreshToken = ok.body.data.refresh_token;
    }
    const limited = await api.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: refreshToken }, headers: from(freshIp()) });
    expect(limited.res.status).to.equal(429);
  });
});

describe('identity: email verification (e2e)', () => {
  let api: AuthApi;
  let container: Container;
  // a verified account's order is placed with Alipay: the payment sandbox
  const merchant = generateMerchant();
  let sandbox: PaymentSandbox;
  before(async () => {
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant) });
    api = await startAuthApi({
      EMAIL_VERIFICATION: 'required',
      ...platformEnv({ merchant, keys: sandbox.keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' }),
    });
    container = api.container;
  });
  after(async () => {
    await api?.stop();
    await sandbox?.stop();
  });

  it('a new account gets a link by mail; until it is followed the account cannot pay or connect a platform account; then it can', async () => {
    const { email, userId, tokens } = await signUp(api, 'verify');
    const token = tokens.access_token as string;
    const profile = await api.call('GET', `/api/v1/users/profile?after_position=${tokens.position}`, { token });
    expect(profile.body.data.email_verified).to.equal(false);

    const order = { service: 'qidian', plan: 'pro', billing_cycle: 'monthly', provider: 'alipay' };
    const refused = await api.call('POST', '/api/v1/payments/orders', { token, body: order });
    expect(refused.res.status, refused.text).to.equal(403);
    expect(refused.body.error?.details).to.deep.include({ reason: 'email_not_verified' });
    const connect = await api.call('POST', '/api/v1/platform-accounts', {
      token,
      body: { platform: 'qidian', credentials: { cookies: 'a=b' }, display_name: 'mine' },
    });
    expect(connect.res.status, connect.text).to.equal(403);

    const mail = await api.sink.waitForMessage((m) => m.envelope.to.includes(email) && m.parsed.subject.includes('Verify your email'), 10_000);
    const link = /https?:\/\/\S+\/verify-email\?token=(\S+)/.exec(mail.parsed.text ?? '')!;
    expect(link, mail.parsed.text).to.not.equal(null);
    const verifyToken = decodeURIComponent(link[1]!);
    expect(verifyToken.startsWith(`${userId}.`)).to.equal(true);
    // a sent link's job is gone from the queue: Redis keeps no trace of the token
    const config = container.get(TOKENS.Config);
    const queue = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX }).queue(QUEUE_NAMES.mail);
    try {
      const kept = await queue.getJobs(['completed', 'waiting', 'active', 'delayed', 'failed']);
      expect(kept.filter((j) => j.name === 'verification-mail' && (j.data as { userId?: string }).userId === userId)).to.deep.equal([]);
    } finally {
      await queue.close();
    }

    const wrong = await api.call('POST', '/api/v1/auth/verify-email', { body: { token: `${userId}.${'A'.repeat(43)}` } });
    expect(wrong.res.status).to.equal(401);
    const verified = await api.call('POST', '/api/v1/auth/verify-email', { body: { token: verifyToken } });
    expect(verified.res.status, verified.text).to.equal(200);
    const again = await api.call('POST', '/api/v1/auth/verify-email', { body: { token: verifyToken } });
    expect(again.res.status, 'following the link twice is fine').to.equal(200);
    expect((await api.store.readStream(`user-${userId}`)).filter((e) => e.type === 'EmailVerified')).to.have.length(1);

    const after = await api.call('GET', `/api/v1/users/profile?after_position=${verified.body.data.position}`, { token });
    expect(after.body.data.email_verified).to.equal(true);
    const paid = await api.call('POST', '/api/v1/payments/orders', { token, body: order });
    expect(paid.res.status, paid.text).to.equal(201);
    const resend = await api.call('POST', '/api/v1/users/email-verification', { token });
    expect(resend.res.status).to.equal(409);
  });

  it('a new link on request supersedes the first: the old one is refused, the new one verifies', async () => {
    const { email, userId, tokens } = await signUp(api, 'verify-again');
    const first = await api.sink.waitForMessage((m) => m.envelope.to.includes(email) && m.parsed.subject.includes('Verify your email'), 10_000);
    const resend = await api.call('POST', '/api/v1/users/email-verification', { token: tokens.access_token });
    expect(resend.res.status, resend.text).to.equal(202);
    await waitFor('a second link', () => api.sink.messages.filter((m) => m.envelope.to.includes(email)).length >= 2, 10_000);
    const tokenOf = (text: string | undefined) => decodeURIComponent(/verify-email\?token=(\S+)/.exec(text ?? '')![1]!);
    const second = api.sink.messages.filter((m) => m.envelope.to.includes(email))[1]!;
    expect((await api.call('POST', '/api/v1/auth/verify-email', { body: { token: tokenOf(first.parsed.text) } })).res.status).to.equal(401);
    expect((await api.call('POST', '/api/v1/auth/verify-email', { body: { token: tokenOf(second.parsed.text) } })).res.status).to.equal(200);
    expect((await api.store.readStream(`user-${userId}`)).map((e) => e.type)).to.include('EmailVerified');
  });
});
