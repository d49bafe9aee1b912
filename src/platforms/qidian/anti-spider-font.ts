import * as fontkit from 'fontkit';

/**
 * Qidian's rank boards print scores (monthly tickets, recommendations) in
 * a per-page font whose private codepoints draw digits: the page's text is
 * e.g. `&#100385;&#100390;` and only the font knows that these are "3" and
 * "8". The font's glyphs keep their standard PostScript names (`zero` …
 * `nine`, `period`), so reading the font's character map — codepoint →
 * glyph → name — gives the digits back. fontkit reads the served woff
 * (also woff2, ttf, otf).
 */

const GLYPH_CHARACTERS: Readonly<Record<string, string>> = {
  zero: '0',
  one: '1',
  two: '2',
  three: '3',
  four: '4',
  five: '5',
  six: '6',
  seven: '7',
  eight: '8',
  nine: '9',
  period: '.',
};

/** codepoint → the character its glyph draws */
export type GlyphDigits = ReadonlyMap<number, string>;

/** The digit map of a served font; empty when the bytes are not a font or draw no digits. */
export function glyphDigits(bytes: Uint8Array): GlyphDigits {
  const map = new Map<number, string>();
  let font: fontkit.Font;
  try {
    const opened = fontkit.create(Buffer.from(bytes));
    if (!('characterSet' in opened)) return map; // a collection: not what a board serves
    font = opened;
  } catch {
    return map;
  }
  for (const codePoint of font.characterSet) {
    const name = font.glyphForCodePoint(codePoint)?.name;
    const character = name ? GLYPH_CHARACTERS[name] : undefined;
    if (character !== undefined) map.set(codePoint, character);
  }
  return map;
}

/** Text with any codepoint the map knows replaced by its digit (the rest, e.g. 万, kept). */
export function decodeGlyphs(text: string, digits: GlyphDigits): string {
  let out = '';
  for (const ch of text) out += digits.get(ch.codePointAt(0)!) ?? ch;
  return out;
}

/** Whether text holds characters that are neither ASCII nor the number words a score may carry: it needs the font. */
export function looksObfuscated(text: string | null): boolean {
  return text !== null && /[^\x20-\x7e万亿]/u.test(text);
}
