import { expect } from 'chai';
import { characterCount, truncateCharacters } from '../../src/write-model/core/characters.js';

describe('characters (code points, as the API documents lengths)', () => {
  it('counts an emoji or another character outside the BMP as one', () => {
    expect(characterCount('')).to.equal(0);
    expect(characterCount('abc')).to.equal(3);
    expect(characterCount('露营')).to.equal(2);
    expect(characterCount('😀😀')).to.equal(2);
    expect(characterCount('a😀b𝌆')).to.equal(4);
  });

  it('cuts text to its first characters, never between the halves of a pair', () => {
    expect(truncateCharacters('abcdef', 3)).to.equal('abc');
    expect(truncateCharacters('ab', 3)).to.equal('ab');
    expect(truncateCharacters('😀😀😀', 2)).to.equal('😀😀');
    // where a UTF-16 slice would leave a lone high surrogate (which jsonb refuses)
    const cut = truncateCharacters('ab😀c', 3);
    expect(cut).to.equal('ab😀');
    expect(truncateCharacters('a😀', 1)).to.equal('a');
    for (const text of ['x😀'.repeat(200), '😀'.repeat(301), `${'a'.repeat(299)}😀tail`]) {
      const t = truncateCharacters(text, 300);
      expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(t), 'a lone surrogate').to.equal(false);
      expect(characterCount(t)).to.equal(Math.min(300, characterCount(text)));
    }
  });
});
