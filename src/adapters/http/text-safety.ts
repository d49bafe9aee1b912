import type { ValidationIssue } from './error-mapping.js';

/**
 * Input no store can keep, refused at the door with a 422 instead of failing
 * deep inside a command (a 500) or being silently changed:
 * - NUL (U+0000): Postgres text and jsonb refuse it;
 * - half a surrogate pair: not Unicode text at all, it has no UTF-8 form
 *   (Node would write U+FFFD in its place, and jsonb refuses the escape);
 * - nesting deeper than MAX_DEPTH levels: no route takes such a document, and
 *   JSON.stringify or Postgres's JSON parser would run out of stack on one.
 * Object keys count as text too. The walk is iterative and linear in the
 * size of the body (a place's path is built only for an issue): a deeply
 * nested body can neither exhaust the stack nor hold the event loop. It
 * stops after MAX_ISSUES findings.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this refuses
const UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const MAX_ISSUES = 20;
export const MAX_DEPTH = 100;

export function isSafeText(text: string): boolean {
  return !UNSAFE.test(text);
}

function problem(text: string): string {
  return text.includes('\u0000') ? 'must not contain NUL (U+0000)' : 'must be valid Unicode (an unpaired surrogate is not)';
}

/** A place in the walk: its value, and how to name it (its parent and key) should it hold an issue. */
interface Place {
  value: unknown;
  parent: Place | null;
  key: string | number | null;
  depth: number;
}

function pathOf(place: Place, key?: string): (string | number)[] {
  const path: (string | number)[] = key === undefined ? [] : [key];
  for (let p: Place | null = place; p && p.key !== null; p = p.parent) path.push(p.key);
  return path.reverse();
}

/** Every place in `value` holding unsafe text or nested too deep, as validation issues of `location`. */
export function unsafeTextIssues(location: NonNullable<ValidationIssue['in']>, value: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const stack: Place[] = [{ value, parent: null, key: null, depth: 0 }];
  while (stack.length > 0 && issues.length < MAX_ISSUES) {
    const place = stack.pop()!;
    const v = place.value;
    if (typeof v === 'string') {
      if (!isSafeText(v)) issues.push({ in: location, path: pathOf(place), message: problem(v), code: 'invalid_text' });
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (place.depth >= MAX_DEPTH) {
      issues.push({ in: location, path: pathOf(place), message: `nested deeper than ${MAX_DEPTH} levels`, code: 'too_deep' });
      continue;
    }
    const depth = place.depth + 1;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: place, key: i, depth });
    } else {
      for (const [key, inner] of Object.entries(v)) {
        if (!isSafeText(key)) issues.push({ in: location, path: pathOf(place, key), message: `key ${problem(key)}`, code: 'invalid_text' });
        else stack.push({ value: inner, parent: place, key, depth });
      }
    }
  }
  return issues;
}
