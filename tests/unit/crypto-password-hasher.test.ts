import { expect } from 'chai';
import { Argon2idPasswordHasher, TEST_ONLY_ARGON2ID, createPasswordHasher } from '../../src/adapters/crypto/password-hasher.js';

describe('Argon2idPasswordHasher', () => {
  const hasher = new Argon2idPasswordHasher(TEST_ONLY_ARGON2ID);

  it('produces argon2id PHC strings, salted afresh each time', async () => {
    const [a, b] = await Promise.all([hasher.hash('correct horse'), hasher.hash('correct horse')]);
    expect(a).to.match(/^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
    expect(a).to.not.equal(b);
  });

  it('verifies the right password and rejects a wrong one', async () => {
    const hash = await hasher.hash('correct horse');
    expect(await hasher.verify(hash, 'correct horse')).to.equal(true);
    expect(await hasher.verify(hash, 'correct hors')).to.equal(false);
  });

  it('answers false, not an error, for a hash that is malformed or not argon2id', async () => {
    expect(await hasher.verify('not a hash', 'x')).to.equal(false);
    expect(await hasher.verify('$argon2id$v=19$m=1024,p=1,t=1$garbage', 'x')).to.equal(false);
    const argon2i = (await hasher.hash('x')).replace('$argon2id$', '$argon2i$');
    expect(await hasher.verify(argon2i, 'x')).to.equal(false);
  });

  it('uses the OWASP parameters by default, and cheap ones only under NODE_ENV=test', async () => {
    expect(await new Argon2idPasswordHasher().hash('x')).to.match(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await createPasswordHasher({ NODE_ENV: 'production' }).hash('x')).to.match(/\$m=19456,p=1,t=2\$/);
    expect(await createPasswordHasher({ NODE_ENV: 'development' }).hash('x')).to.match(/\$m=19456,p=1,t=2\$/);
    expect(await createPasswordHasher({ NODE_ENV: 'test' }).hash('x')).to.match(/\$m=1024,p=1,t=1\$/);
  });

  it('a hash made with other parameters still verifies (they travel in the string)', async () => {
    const hash = await new Argon2idPasswordHasher().hash('pw');
    expect(await hasher.verify(hash, 'pw')).to.equal(true);
  });
});
