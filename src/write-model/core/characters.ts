/**
 * Lengths of text as the API documents them: characters are Unicode code
 * points, as the OpenAPI document's minLength/maxLength count them (and the
 * request schemas check them), not UTF-16 units as String#length counts: an
 * emoji is one character, two units. A domain limit counted the other way
 * would refuse text the documented limit allows.
 */

const SURROGATE = /[\uD800-\uDFFF]/;

/** How many characters (code points) the text has. */
export function characterCount(text: string): number {
  // no surrogate: one unit per character (nearly all text)
  if (!SURROGATE.test(text)) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * The text cut to its first `max` characters. Never half a surrogate pair: a
 * lone half has no UTF-8 form and jsonb refuses its escape, so an event
 * carrying one could not be appended.
 */
export function truncateCharacters(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  let count = 0;
  for (const ch of text) {
    if (count === max) break;
    out += ch;
    count++;
  }
  return out;
}
