import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { generateOpaqueToken, hashToken, tokenMatchesHash } from '../../src/application/opaque-tokens.js';

describe('opaque tokens', () => {
  it('are 32 random bytes in base64url, never the same twice', () => {
    const tokens = new Set(Array.from({ length: 100 }, generateOpaqueToken));
    expect(tokens.size).to.equal(100);
    for (const token of tokens) {
      expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url')).to.have.length(32);
    }
  });

  it('hash to the 64 lower-case hex characters of their sha256', () => {
    const token = generateOpaqueToken();
    expect(hashToken(token)).to.match(/^[0-9a-f]{64}$/);
    expect(hashToken(token)).to.equal(createHash('sha256').update(token).digest('hex'));
    expect(hashToken('abc')).to.equal('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('match their own hash only', () => {
    const token = generateOpaqueToken();
    expect(tokenMatchesHash(token, hashToken(token))).to.equal(true);
    expect(tokenMatchesHash(generateOpaqueToken(), hashToken(token))).to.equal(false);
    expect(tokenMatchesHash(token, 'short')).to.equal(false);
    expect(tokenMatchesHash(token, hashToken(token).toUpperCase())).to.equal(false);
  });
});
