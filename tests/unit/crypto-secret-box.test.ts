import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { KeyringSecretBox, SecretBoxError, UnknownEncryptionKeyError, createSecretBox, type SealedSecret } from '../../src/adapters/crypto/secret-box.js';
import { loadConfig } from '../../src/config.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

function flip(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[0]! ^= 1;
  return bytes.toString('base64');
}

describe('SecretBox', () => {
  const box = new KeyringSecretBox([k1], 'k1');

  it('round-trips, with a fresh IV each time and JSON-safe base64 fields', () => {
    const secret = 'sessionid=abc; csrftoken=xyz ✓';
    const a = box.encrypt(secret);
    const b = box.encrypt(secret);
    expect(a.keyId).to.equal('k1');
    expect(a.iv).to.not.equal(b.iv);
    expect(a.ciphertext).to.not.include('abc');
    expect(Buffer.from(a.iv, 'base64')).to.have.length(12);
    expect(Buffer.from(a.tag, 'base64')).to.have.length(16);
    const stored = JSON.parse(JSON.stringify(a)) as SealedSecret;
    expect(box.decrypt(stored)).to.equal(secret);
    expect(box.decrypt(box.encrypt(''))).to.equal('');
  });

  for (const field of ['ciphertext', 'iv', 'tag'] as const) {
    it(`detects a tampered ${field}`, () => {
      const sealed = box.encrypt('proxy-password');
      expect(() => box.decrypt({ ...sealed, [field]: flip(sealed[field]) })).to.throw(SecretBoxError);
    });
  }

  it('refuses a truncated tag or a wrong-size IV', () => {
    const sealed = box.encrypt('x');
    const shortTag = Buffer.from(sealed.tag, 'base64').subarray(0, 4).toString('base64');
    expect(() => box.decrypt({ ...sealed, tag: shortTag })).to.throw(SecretBoxError, /malformed/);
    expect(() => box.decrypt({ ...sealed, iv: randomBytes(16).toString('base64') })).to.throw(SecretBoxError, /malformed/);
  });

  it('binds the context: a box opens only under the context it was sealed for', () => {
    const sealed = box.encrypt('cookie', 'platform_account-1');
    expect(box.decrypt(sealed, 'platform_account-1')).to.equal('cookie');
    expect(() => box.decrypt(sealed, 'platform_account-2')).to.throw(SecretBoxError, /authentication/);
    expect(() => box.decrypt(sealed)).to.throw(SecretBoxError);
  });

  it('names an unknown key id clearly', () => {
    const sealed = box.encrypt('x');
    expect(() => box.decrypt({ ...sealed, keyId: 'gone' })).to.throw(UnknownEncryptionKeyError, 'no encryption key with id "gone"');
    expect(() => new KeyringSecretBox([k1], 'k2')).to.throw(UnknownEncryptionKeyError);
    expect(() => new KeyringSecretBox([{ id: 'short', key: randomBytes(16) }], 'short')).to.throw(SecretBoxError, /32 bytes/);
  });

  it('rotates: new boxes use the current key, old boxes still open', () => {
    const before = new KeyringSecretBox([k1], 'k1').encrypt('old secret');
    const rotated = new KeyringSecretBox([k1, k2], 'k2');
    const after = rotated.encrypt('new secret');
    expect(after.keyId).to.equal('k2');
    expect(rotated.decrypt(before)).to.equal('old secret');
    expect(rotated.decrypt(after)).to.equal('new secret');
    expect(rotated.isStale(before)).to.equal(true);
    expect(rotated.isStale(after)).to.equal(false);
    // a key cannot open another key's box even if the id is forged
    expect(() => rotated.decrypt({ ...before, keyId: 'k2' })).to.throw(SecretBoxError);
  });

  it('is built from the configuration keyring and current key id', () => {
    const keys = `a:${randomBytes(32).toString('base64')},b:${randomBytes(32).toString('base64')}`;
    const first = createSecretBox(loadConfig({ ENCRYPTION_KEYS: keys }));
    expect(first.encrypt('x').keyId).to.equal('a');
    const second = createSecretBox(loadConfig({ ENCRYPTION_KEYS: keys, ENCRYPTION_KEY_ID: 'b' }));
    const sealed = second.encrypt('x');
    expect(sealed.keyId).to.equal('b');
    expect(first.decrypt(sealed)).to.equal('x');
    expect(createSecretBox(loadConfig({})).decrypt(createSecretBox(loadConfig({ NODE_ENV: 'test' })).encrypt('dev'))).to.equal('dev');
  });
});
