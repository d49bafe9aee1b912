import opentype from 'opentype.js';

/**
 * The sandbox's stand-in for Qidian's per-page anti-spider fonts: eleven
 * glyphs named as in the real fonts (`zero` … `nine`, `period`), each on a
 * codepoint from 100382 up, shuffled per font, so a page's text means
 * nothing without its font. (generate.ts writes one per rank page.)
 */

const NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'period'] as const;
const FIRST = 100382;

/** The codepoint that draws `ch` (a digit or ".") in the font of `seed`. */
export function obfuscatedCodePoint(ch: string, seed: number): number {
  const index = ch === '.' ? 10 : Number(ch);
  return FIRST + ((index + seed * 3) % NAMES.length);
}

/** The font of `seed` as TrueType bytes (served as .woff: readers sniff the format). */
export function antiSpiderFont(seed: number): Uint8Array {
  const notdef = new opentype.Glyph({ name: '.notdef', unicode: 0, advanceWidth: 600, path: new opentype.Path() });
  const glyphs = NAMES.map((name, index) => {
    const path = new opentype.Path();
    // a box per glyph, shifted by its index: shapes do not matter to a reader of names
    path.moveTo(50, 0);
    path.lineTo(50 + 40 * index, 700);
    path.lineTo(550, 0);
    path.close();
    return new opentype.Glyph({ name, unicode: obfuscatedCodePoint(name === 'period' ? '.' : String(index), seed), advanceWidth: 600, path });
  });
  const font = new opentype.Font({
    familyName: `QDAnti${seed}`,
    styleName: 'Regular',
    unitsPerEm: 1000,
    ascender: 800,
    descender: -200,
    glyphs: [notdef, ...glyphs],
  });
  return new Uint8Array(font.toArrayBuffer());
}
