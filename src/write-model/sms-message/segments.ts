/**
 * How many SMS segments a text takes, as the networks count them:
 * - GSM-7 (the GSM 03.38 default alphabet) when every character is in it:
 *   160 septets in one segment, 153 per segment once split (the rest is the
 *   concatenation header); the extension characters (^ { } [ ] ~ \ | € and
 *   form feed) take two septets, and an escape pair is never split;
 * - UCS-2 otherwise (any Chinese text): 70 UTF-16 units in one segment, 67
 *   per segment once split; a surrogate pair (an emoji) is never split.
 */

const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const GSM7_EXTENSION = new Set('^{}\\[~]|€\f');

export type SmsEncoding = 'GSM-7' | 'UCS-2';
export const SMS_ENCODINGS = ['GSM-7', 'UCS-2'] as const;

export interface SegmentCount {
  encoding: SmsEncoding;
  segments: number;
  /** septets (GSM-7) or UTF-16 units (UCS-2) the text takes */
  units: number;
}

const LIMITS: Record<SmsEncoding, { single: number; multi: number }> = {
  'GSM-7': { single: 160, multi: 153 },
  'UCS-2': { single: 70, multi: 67 },
};

/** The encoding a text needs: GSM-7 when every character is in the alphabet. */
export function smsEncoding(text: string): SmsEncoding {
  for (const ch of text) if (!GSM7_BASIC.has(ch) && !GSM7_EXTENSION.has(ch)) return 'UCS-2';
  return 'GSM-7';
}

/** Each character's size in the encoding's units, in order. */
function unitSizes(text: string, encoding: SmsEncoding): number[] {
  const sizes: number[] = [];
  for (const ch of text) sizes.push(encoding === 'GSM-7' ? (GSM7_EXTENSION.has(ch) ? 2 : 1) : ch.length);
  return sizes;
}

/** Segments of a text (0 for the empty text). */
export function countSegments(text: string): SegmentCount {
  const encoding = smsEncoding(text);
  const sizes = unitSizes(text, encoding);
  const units = sizes.reduce((a, b) => a + b, 0);
  const limits = LIMITS[encoding];
  if (units === 0) return { encoding, segments: 0, units };
  if (units <= limits.single) return { encoding, segments: 1, units };
  // fill segments greedily: a character that does not fit whole starts the next one
  let segments = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > limits.multi) {
      segments += 1;
      used = 0;
    }
    used += size;
  }
  return { encoding, segments, units };
}
