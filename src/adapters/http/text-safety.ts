import type { ValidationIssue } from './error-mapping.js';

/**
 * Text no store can keep, refused at the door with a 422 instead of failing
 * deep inside a command (a 500) or being silently changed:
 * - NUL (U+0000): Postgres text and jsonb refuse it;
 * - half a surrogate pair: not Unicode text at all, it has no UTF-8 form
 *   (Node would write U+FFFD in its place, and jsonb refuses the escape).
 * Object keys count as text too. The walk is iterative: a deeply nested body
 * cannot exhaust the stack, and it stops after MAX_ISSUES findings.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this refuses
const UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const MAX_ISSUES = 20;

export function isSafeText(text: string): boolean {
  return !UNSAFE.test(text);
}

function problem(text: string): string {
  return text.includes('\u0000') ? 'must not contain NUL (U+0000)' : 'must be valid Unicode (an unpaired surrogate is not)';
}

/** Every place in `value` holding unsafe text, as validation issues of `location`. */
export function unsafeTextIssues(location: NonNullable<ValidationIssue['in']>, value: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0 && issues.length < MAX_ISSUES) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (!isSafeText(v)) issues.push({ in: location, path, message: problem(v), code: 'invalid_text' });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
    } else if (v !== null && typeof v === 'object') {
      for (const [key, inner] of Object.entries(v)) {
        if (!isSafeText(key)) issues.push({ in: location, path: [...path, key], message: `key ${problem(key)}`, code: 'invalid_text' });
        else stack.push({ value: inner, path: [...path, key] });
      }
    }
  }
  return issues;
}
