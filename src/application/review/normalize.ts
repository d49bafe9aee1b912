import { INVISIBLE_CODE_POINTS } from '../../write-model/core/invisible.js';

/**
 * Text as the pre-review matches it: NFKC (full-width letters and digits,
 * compatibility forms and ligatures folded to their plain forms), lower case,
 * and without the invisible characters used to split a word so a filter
 * misses it (zero-width spaces and joiners, soft hyphens, bidi controls).
 * Every unit of the normalized text remembers where it came from, so a match
 * found in it is reported at its place in the text as written.
 *
 * Speed matters (every publication passes here, whole articles at a time):
 * a character that becomes one unit on its own (ASCII, CJK ideographs,
 * full-width forms, most punctuation) is looked up in a table filled once
 * per code unit; only the others (surrogate pairs, characters with combining
 * marks, expansions like ㍿) go through String.normalize, memoised.
 */

export interface NormalizedText {
  /** the normalized text */
  text: string;
  /**
   * the groups that did not map unit for unit, 4 numbers each: where the
   * group starts in `text`, its length there, and its [start, end) in the original
   */
  groups: Int32Array;
  /** `text.length` */
  length: number;
}

/** Invisible characters that are dropped. */
const INVISIBLE = INVISIBLE_CODE_POINTS;

const UNKNOWN = 0;
/** becomes one unit of its own (itself, its lower case or its one-unit NFKC form): `singles` holds it */
const SINGLE = 1;
/** goes through String.normalize */
const COMPLEX = 2;
/** combines with what comes before it: that character goes through String.normalize with it */
const MARK = 3;

/** per BMP code unit: its class, filled in on first sight */
const classes = new Uint8Array(0x10000);
/** per SINGLE code unit: the unit it becomes */
const singles = new Uint16Array(0x10000);
const MARK_RE = /^\p{M}$/u;

function classify(unit: number): number {
  let cls = COMPLEX;
  const ch = String.fromCharCode(unit);
  if ((unit >= 0xd800 && unit <= 0xdfff) || INVISIBLE.has(unit)) cls = COMPLEX;
  else if (MARK_RE.test(ch) || (unit >= 0x1160 && unit <= 0x11ff)) cls = MARK;
  else {
    const nf = ch.normalize('NFKC').toLowerCase();
    const out = nf.charCodeAt(0);
    // one unit that neither composes nor is dropped: copied as that unit
    if (nf.length === 1 && !INVISIBLE.has(out) && !MARK_RE.test(nf)) {
      cls = SINGLE;
      singles[unit] = out;
    }
  }
  classes[unit] = cls;
  return cls;
}

const classOf = (unit: number): number => {
  const cls = classes[unit]!;
  return cls === UNKNOWN ? classify(unit) : cls;
};

/** What a character and its marks become (memoised: the same few recur). */
const memo = new Map<string, string>();
const MEMO_LIMIT = 50_000;

function normalizeGroup(group: string): string {
  let out = memo.get(group);
  if (out !== undefined) return out;
  out = '';
  for (const ch of group.normalize('NFKC').toLowerCase()) {
    const cp = ch.codePointAt(0)!;
    if (cp > 0xffff || !INVISIBLE.has(cp)) out += ch;
  }
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(group, out);
  return out;
}

const MARKS = /\p{M}+/uy;

/** one-unit strings by code unit, made once */
const unitStrings = new Map<number, string>();
const unitString = (unit: number): string => {
  let s = unitStrings.get(unit);
  if (s === undefined) unitStrings.set(unit, (s = String.fromCharCode(unit)));
  return s;
};

/**
 * The normalized text with its map back to the original. Most of a text
 * maps unit for unit, so the map keeps only the groups that did not (a
 * character with its marks, a surrogate pair, an expansion, a dropped
 * invisible character): between them, an offset moves by the same amount in
 * both texts.
 */
export function normalizeText(original: string): NormalizedText {
  const length = original.length;
  const parts: string[] = [];
  const groups: number[] = [];
  let out = 0;
  let runStart = 0;
  let i = 0;
  let next = length > 0 ? classOf(original.charCodeAt(0)) : UNKNOWN;
  while (i < length) {
    const unit = original.charCodeAt(i);
    const cls = next;
    next = i + 1 < length ? classOf(original.charCodeAt(i + 1)) : UNKNOWN;
    if (cls === SINGLE && next !== MARK) {
      const to = singles[unit]!;
      // itself, or an ASCII capital (the whole text is lower-cased at the end): the run goes on
      if (to === unit || (unit >= 0x41 && unit <= 0x5a)) {
        i++;
        continue;
      }
      if (runStart < i) parts.push(original.slice(runStart, i));
      parts.push(unitString(to));
      out += i - runStart + 1;
      runStart = ++i;
      continue;
    }
    if (runStart < i) parts.push(original.slice(runStart, i));
    out += i - runStart;
    // one character (a surrogate pair counts as one) and the marks that follow it
    let j = i + (unit >= 0xd800 && unit <= 0xdbff && i + 1 < length && (original.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1);
    MARKS.lastIndex = j;
    if (MARKS.test(original)) j = MARKS.lastIndex;
    const normalized = normalizeGroup(original.slice(i, j));
    parts.push(normalized);
    groups.push(out, normalized.length, i, j);
    out += normalized.length;
    runStart = i = j;
    next = i < length ? classOf(original.charCodeAt(i)) : UNKNOWN;
  }
  if (runStart < length) parts.push(original.slice(runStart, length));
  out += length - runStart;
  const joined = parts.length === 1 ? parts[0]! : parts.join('');
  let text = joined.toLowerCase();
  // lower case is length-preserving on what is left to lower (ASCII capitals); kept safe all the same
  if (text.length !== joined.length) text = joined.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  return { text, groups: Int32Array.from(groups), length: out };
}

/** Where normalized unit `p` came from: [start, end) in the original. */
function origin(n: NormalizedText, p: number): { start: number; end: number } {
  const g = n.groups;
  // the last group starting at or before p (groups are in order, 4 numbers each)
  let lo = 0;
  let hi = g.length / 4 - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (g[mid * 4]! <= p) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return { start: p, end: p + 1 };
  const outStart = g[found * 4]!;
  const outLength = g[found * 4 + 1]!;
  const inStart = g[found * 4 + 2]!;
  const inEnd = g[found * 4 + 3]!;
  if (p < outStart + outLength) return { start: inStart, end: inEnd };
  const at = inEnd + (p - outStart - outLength);
  return { start: at, end: at + 1 };
}

/** The original range of normalized units [start, end). */
export function originalRange(normalized: NormalizedText, start: number, end: number): { start: number; end: number } {
  if (end <= start) {
    const at = start < normalized.length ? origin(normalized, start).start : normalized.length === 0 ? 0 : origin(normalized, normalized.length - 1).end;
    return { start: at, end: at };
  }
  return { start: origin(normalized, start).start, end: origin(normalized, end - 1).end };
}

/** A phrase as it is matched: normalized the same way as the text. */
export function normalizePhrase(phrase: string): string {
  return normalizeText(phrase).text;
}
