import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger, redactSecrets } from '../../src/logger.js';

/** A logger writing its JSON lines into an array. */
function capturingLogger(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ LOG_LEVEL: level as 'info' }, { name: 'api', destination });
  return { logger, lines };
}

describe('logger', () => {
  it('writes JSON lines with a level label, an ISO time and the process name', () => {
    const { logger, lines } = capturingLogger();
    logger.info({ requestId: 'r1' }, 'hello');
    logger.debug('not at info');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ level: 'info', name: 'api', requestId: 'r1', msg: 'hello' });
    expect(lines[0]!.time).to.match(/^\d{4}-\d\d-\d\dT/);
  });

  it('masks secret-looking keys at any depth', () => {
    const { logger, lines } = capturingLogger();
    logger.info(
      {
        password: 'p',
        user: { email: 'a@b.c', refresh_token: 'r', credentials: { cookie: 'c' } },
        headers: [{ Authorization: 'Bearer x', 'Set-Cookie': 'y', accept: 'json' }],
        jwtSecret: 's',
        apiKey: 'k',
      },
      'login',
    );
    const line = JSON.stringify(lines[0]);
    for (const secret of ['"p"', '"r"', '"c"', 'Bearer x', '"y"', '"s"', '"k"']) {
      expect(line).to.not.include(secret);
    }
    expect(lines[0]).to.deep.include({
      password: '[REDACTED]',
      user: { email: 'a@b.c', refresh_token: '[REDACTED]', credentials: '[REDACTED]' },
      headers: [{ Authorization: '[REDACTED]', 'Set-Cookie': '[REDACTED]', accept: 'json' }],
    });
  });

  it("masks secret-looking keys of a child's bindings, and of its children's", () => {
    const { logger, lines } = capturingLogger();
    const request = logger.child({ requestId: 'r1', token: 'bound-token' });
    request.child({ user: { id: 'u1', password: 'bound-password' }, Cookie: 'a1=bound-cookie' }).info('hi');
    request.info({ apiKey: 'entry-key' }, 'again');
    expect(lines[0]).to.deep.include({
      requestId: 'r1',
      token: '[REDACTED]',
      user: { id: 'u1', password: '[REDACTED]' },
      Cookie: '[REDACTED]',
      msg: 'hi',
    });
    expect(lines[1]).to.deep.include({ requestId: 'r1', token: '[REDACTED]', apiKey: '[REDACTED]', msg: 'again' });
    expect(JSON.stringify(lines)).to.not.match(/bound-|entry-key/);
  });

  it('still serializes errors with their message and stack', () => {
    const { logger, lines } = capturingLogger();
    logger.error({ err: new Error('boom') }, 'failed');
    const err = lines[0]!.err as { message: string; stack: string };
    expect(err.message).to.equal('boom');
    expect(err.stack).to.include('Error: boom');
  });

  it('masks secret-looking fields an error carries, its cause included', () => {
    const { logger, lines } = capturingLogger();
    const cause = Object.assign(new Error('upstream refused'), { headers: { authorization: 'Bearer inner-secret' } });
    const error = Object.assign(new Error('request failed', { cause }), {
      request: { url: 'https://x.test/a', headers: { Cookie: 'web_session=cookie-secret' } },
      accessToken: 'token-secret',
      status: 401,
    });
    logger.error({ err: error }, 'failed');
    const line = JSON.stringify(lines[0]);
    for (const secret of ['inner-secret', 'cookie-secret', 'token-secret']) expect(line).to.not.include(secret);
    const err = lines[0]!.err as Record<string, any>;
    expect(err).to.include({ accessToken: '[REDACTED]', status: 401 });
    expect(err.message).to.include('request failed');
    expect(err.request).to.deep.equal({ url: 'https://x.test/a', headers: { Cookie: '[REDACTED]' } });
    expect(err.stack).to.include('Error: request failed');
  });

  it('logs an error carrying a bigint or a cycle without throwing', () => {
    const { logger, lines } = capturingLogger();
    const looped: Record<string, unknown> = { password: 'loop-secret' };
    looped.self = looped;
    logger.error({ err: Object.assign(new Error('with bigint'), { position: 12n, token: 't-secret' }) }, 'a');
    logger.error({ err: Object.assign(new Error('with cycle'), { looped }) }, 'b');
    expect(lines).to.have.length(2);
    expect(lines[0]!.err).to.include({ message: 'with bigint', position: '12', token: '[REDACTED]' });
    expect(lines[1]!.err).to.include({ message: 'with cycle' });
    expect(JSON.stringify(lines)).to.not.include('secret');
  });

  it('redactSecrets copies instead of mutating, and survives cycles', () => {
    const input: Record<string, unknown> = { token: 'x', nested: { a: 1 } };
    input.self = input;
    const output = redactSecrets(input) as Record<string, unknown>;
    expect(input.token).to.equal('x');
    expect(output.token).to.equal('[REDACTED]');
    expect(JSON.stringify(output)).to.not.include('"x"');
  });
});
