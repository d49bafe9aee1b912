import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { generateOpaqueToken, hashToken } from '../../src/application/opaque-tokens.js';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { Mailer } from '../../src/application/ports/mailer.js';
import { createSmtpMailer } from '../../src/adapters/mail/smtp-mailer.js';
import { sealResetToken, sendPasswordResetMail } from '../../src/application/password-reset-mail.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { userAggregate } from '../../src/write-model/user/decider.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { SmtpSink } from '../support/smtp-sink.js';

describe('password-reset mail from the outbox', () => {
  let store: PostgresEventStore;
  let sink: SmtpSink;
  let mailer: Mailer;
  const secretBox = createSecretBox(testConfig());
  const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 3 });
    sink = await new SmtpSink().start();
    mailer = createSmtpMailer({ url: sink.url, from: 'no-reply@collector.test' });
  });
  after(async () => {
    await mailer?.close();
    await sink?.stop();
    await store?.close();
  });

  it('sends only the latest link, its token unsealed just for the mail; a box opened for another user fails', async () => {
    const userId = randomUUID();
    const email = `reset-mail-${userId}@example.test`;
    const now = new Date();
    await handle(
      store,
      userAggregate,
      userId,
      {
        type: 'RegisterUser',
        userId,
        email,
        passwordHash: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA',
        displayName: 'R',
        role: 'user',
        now: now.toISOString(),
      },
      { context },
    );
    const tokens = [`${userId}.${generateOpaqueToken()}`, `${userId}.${generateOpaqueToken()}`];
    for (const token of tokens) {
      await handle(
        store,
        userAggregate,
        userId,
        {
          type: 'RequestPasswordReset',
          userId,
          resetTokenHash: hashToken(token),
          expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
          now: now.toISOString(),
        },
        { context },
      );
    }
    const deps = { store, mailer, secretBox, webUrl: 'https://app.collector.test/', ttlMinutes: 30 };

    expect(await sendPasswordResetMail(deps, { userId, token: sealResetToken(secretBox, userId, tokens[0]!) })).to.equal('superseded');
    expect(sink.messages.filter((m) => m.envelope.to.includes(email))).to.have.length(0);

    expect(await sendPasswordResetMail(deps, { userId, token: sealResetToken(secretBox, userId, tokens[1]!) })).to.equal('sent');
    const mail = sink.messages.find((m) => m.envelope.to.includes(email))!;
    expect(mail.parsed.text).to.include(`https://app.collector.test/reset-password?token=${encodeURIComponent(tokens[1]!)}`);

    // a sealed token copied into another user's job does not open
    let refused: unknown;
    await sendPasswordResetMail(deps, { userId: randomUUID(), token: sealResetToken(secretBox, userId, tokens[1]!) }).catch((e: unknown) => (refused = e));
    expect(refused).to.be.instanceOf(Error);
  });
});
