import { expect } from 'chai';
import net, { type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Mailer } from '../../src/application/ports/mailer.js';
import { createSmtpMailer, MailDeliveryError } from '../../src/adapters/mail/smtp-mailer.js';
import { passwordResetMail } from '../../src/application/mail/templates.js';
import { SmtpSink } from '../support/smtp-sink.js';

const FROM = '"Collector 平台" <no-reply@collector.test>';
const RESET_URL = 'https://app.collector.test/reset-password?token=Zm9vYmFy.c2VjcmV0-token_with-a-length-that-wraps-the-mime-lines&lang=zh';

/** A pino logger writing into an array, to check what the adapter logs. */
function captureLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, destination), lines };
}

async function expectDeliveryError(sending: Promise<unknown>): Promise<MailDeliveryError> {
  try {
    await sending;
  } catch (error) {
    expect(error).to.be.instanceOf(MailDeliveryError);
    return error as MailDeliveryError;
  }
  expect.fail('the send should have failed');
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('SMTP mailer (nodemailer, against a real SMTP sink)', function () {
  this.timeout(15_000);
  const mailers: Mailer[] = [];
  const sinks: SmtpSink[] = [];

  function mailer(options: Parameters<typeof createSmtpMailer>[0]): Mailer {
    const created = createSmtpMailer(options);
    mailers.push(created);
    return created;
  }

  async function sink(options?: ConstructorParameters<typeof SmtpSink>[0]): Promise<SmtpSink> {
    const started = await new SmtpSink(options).start();
    sinks.push(started);
    return started;
  }

  afterEach(async () => {
    await Promise.all(mailers.splice(0).map((m) => m.close()));
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
  });

  describe('delivery', () => {
    it('delivers a bilingual password-reset mail that reads back intact', async () => {
      const smtp = await sink();
      const mail = passwordResetMail({ resetUrl: RESET_URL, expiresInMinutes: 30 });
      const sent = await mailer({ url: smtp.url, from: FROM }).send({ to: 'zhang.san@example.com', ...mail });

      const received = await smtp.waitForMessage((m) => m.envelope.to.includes('zhang.san@example.com'), 5_000);
      expect(received.envelope.to).to.deep.equal(['zhang.san@example.com']);
      expect(received.envelope.from).to.equal('no-reply@collector.test');
      expect(received.parsed.messageId).to.equal(sent.messageId);
      expect(received.parsed.to).to.equal('zhang.san@example.com');
      expect(received.parsed.from).to.equal('Collector 平台 <no-reply@collector.test>');
      expect(received.parsed.subject).to.equal('重置密码 / Reset your password – Collector');
      // the body is quoted-printable on the wire: the long URL is split by soft breaks and `=` is `=3D`
      expect(received.raw).to.match(/Content-Transfer-Encoding: (quoted-printable|base64)/);
      expect(received.raw).not.to.include(RESET_URL);
      expect(received.parsed.text).to.include(RESET_URL);
      expect(received.parsed.text).to.include('30 分钟内有效');
      expect(received.parsed.text).to.include('valid for 30 minutes');
      expect(received.parsed.html).to.include(`href="${RESET_URL.replace(/&/g, '&amp;')}"`);
      expect(received.parsed.html).to.include('重置密码');
    });

    it('decodes a mostly-Chinese body whatever transfer encoding nodemailer picks', async () => {
      const smtp = await sink();
      const text = '您的订阅已续费成功。感谢您使用我们的数据采集服务，祝您工作顺利！'.repeat(3);
      await mailer({ url: smtp.url, from: FROM }).send({ to: 'li.si@example.com', subject: '订阅续费成功', text });

      const received = await smtp.waitForMessage((m) => m.parsed.subject === '订阅续费成功');
      expect(received.parsed.text).to.equal(text);
      expect(received.parsed.html).to.equal(undefined);
    });

    it('sends concurrent messages over the pool, one per recipient list', async () => {
      const smtp = await sink();
      const out = mailer({ url: smtp.url, from: FROM, maxConnections: 2 });
      await Promise.all(
        Array.from({ length: 5 }, (_, i) => out.send({ to: [`user${i}@example.com`, 'audit@example.com'], subject: `batch ${i}`, text: `message ${i}` })),
      );
      expect(smtp.messages).to.have.length(5);
      const batch3 = await smtp.waitForMessage((m) => m.parsed.subject === 'batch 3');
      expect(batch3.envelope.to).to.deep.equal(['user3@example.com', 'audit@example.com']);
      expect(batch3.parsed.text).to.equal('message 3');
    });

    it('rejects sends once closed, with MailDeliveryError', async () => {
      const smtp = await sink();
      const out = mailer({ url: smtp.url, from: FROM });
      await out.close();
      const error = await expectDeliveryError(out.send({ to: 'a@example.com', subject: 'late', text: 'late' }));
      expect(error.kind).to.equal('config');
    });
  });

  describe('authentication', () => {
    const user = 'mailer@collector.test';
    const pass = 's3cr3t/p@ss:w0rd%';

    it('logs in with the credentials of the URL (percent-decoded)', async () => {
      const smtp = await sink({ auth: { user, pass } });
      await mailer({ url: smtp.urlWith({ user, pass }), from: FROM }).send({ to: 'a@example.com', subject: 'auth ok', text: 'hello' });

      const received = await smtp.waitForMessage((m) => m.parsed.subject === 'auth ok');
      expect(received.user).to.equal(user);
      expect(smtp.authAttempts).to.deep.include({ username: user, ok: true });
    });

    it('a wrong password gives MailDeliveryError that leaks no password, in the error or the logs', async () => {
      const smtp = await sink({ auth: { user, pass } });
      const wrong = 'WrongPa55!word#xyz';
      const { logger, lines } = captureLogger();
      const error = await expectDeliveryError(
        mailer({ url: smtp.urlWith({ user, pass: wrong }), from: FROM, logger }).send({ to: 'a@example.com', subject: 'x', text: 'x' }),
      );

      expect(error.kind).to.equal('auth');
      expect(error.retryable).to.equal(false);
      expect(error.responseCode).to.equal(535);
      expect(error.message).to.match(/authentication failed/);
      expect(error.message).to.include(`127.0.0.1:`);
      expect(smtp.authAttempts).to.deep.include({ username: user, ok: false });
      expect(smtp.messages).to.have.length(0);

      const everything = [error.message, error.stack ?? '', JSON.stringify(error), String(error.command), ...lines].join('\n');
      for (const secret of [wrong, encodeURIComponent(wrong), Buffer.from(wrong).toString('base64'), Buffer.from(`\0${user}\0${wrong}`).toString('base64')]) {
        expect(everything).not.to.include(secret);
      }
      expect(lines.join('')).to.include('mail delivery failed');
    });

    it('no credentials against a relay that requires them gives an auth MailDeliveryError', async () => {
      const smtp = await sink({ auth: { user, pass } });
      const error = await expectDeliveryError(mailer({ url: smtp.url, from: FROM }).send({ to: 'a@example.com', subject: 'x', text: 'x' }));
      expect(error.kind).to.equal('auth');
      expect(smtp.messages).to.have.length(0);
    });

    it('an unparsable URL is refused without echoing it', () => {
      const url = 'smtp://user:Sup3rSecret@@:notaport';
      try {
        createSmtpMailer({ url, from: FROM });
        expect.fail('should have thrown');
      } catch (error) {
        expect(error).to.be.instanceOf(MailDeliveryError);
        expect((error as Error).message).not.to.include('Sup3rSecret');
        expect((error as MailDeliveryError).kind).to.equal('config');
      }
    });
  });

  describe('unreachable relay', () => {
    it('a closed port gives a retryable connection MailDeliveryError quickly', async () => {
      const port = await closedPort();
      const started = Date.now();
      const error = await expectDeliveryError(
        mailer({ url: `smtp://user:Hidden-Pa55@127.0.0.1:${port}`, from: FROM, connectionTimeoutMs: 2_000 }).send({
          to: 'a@example.com',
          subject: 'x',
          text: 'x',
        }),
      );
      expect(Date.now() - started).to.be.below(3_000);
      expect(error.kind).to.equal('connection');
      expect(error.retryable).to.equal(true);
      expect(error.message).to.include(`smtp://127.0.0.1:${port}`);
      expect(error.message).not.to.include('Hidden-Pa55');
    });

    it('a server that accepts but never greets times out within greetingTimeoutMs', async () => {
      const sockets = new Set<net.Socket>();
      const silent = net.createServer((socket) => void sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as AddressInfo;
      try {
        const started = Date.now();
        const error = await expectDeliveryError(
          mailer({ url: `smtp://127.0.0.1:${port}`, from: FROM, greetingTimeoutMs: 500 }).send({ to: 'a@example.com', subject: 'x', text: 'x' }),
        );
        expect(Date.now() - started).to.be.within(400, 3_000);
        expect(error.kind).to.equal('connection');
        expect(error.retryable).to.equal(true);
        expect(error.code).to.equal('ETIMEDOUT');
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it('the overall send timeout aborts a delivery the relay stalls', async () => {
      // greets, then never answers EHLO: only the send deadline notices within the test
      const sockets = new Set<net.Socket>();
      const stalling = net.createServer((socket) => {
        sockets.add(socket);
        socket.write('220 stalling ESMTP\r\n');
      });
      await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
      const { port } = stalling.address() as AddressInfo;
      try {
        const started = Date.now();
        const error = await expectDeliveryError(
          mailer({ url: `smtp://127.0.0.1:${port}`, from: FROM, sendTimeoutMs: 600, closeTimeoutMs: 100 }).send({
            to: 'a@example.com',
            subject: 'x',
            text: 'x',
          }),
        );
        expect(Date.now() - started).to.be.within(500, 3_000);
        expect(error.kind).to.equal('connection');
        expect(error.message).to.include('no answer within 600 ms');
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => stalling.close(() => resolve()));
      }
    });
  });
});
