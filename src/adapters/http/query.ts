import { z } from 'zod';
import type { ValidationIssue } from './error-mapping.js';

const DECIMAL = /^\d+$/;

/**
 * A whole number in a query string or a path: decimal digits only, as the
 * OpenAPI document's `integer` says. `z.coerce.number()` would take `0x10`
 * for 16, `1e1` for 10, ` 2`, `+3` and `2.0` too, and an empty value for 0:
 * spellings no client means as that number. Documented as an integer with
 * its bounds.
 */
export function decimalInteger(bounds: { min: number; max?: number }) {
  let number = z.number().int().min(bounds.min);
  if (bounds.max !== undefined) number = number.max(bounds.max);
  return z.preprocess((value, ctx) => {
    // undefined: left to optional or default; anything but a string is not from a URL (the number schema says what it is)
    if (typeof value !== 'string') return value;
    if (DECIMAL.test(value)) return Number(value);
    ctx.addIssue({ code: 'custom', message: 'a whole number in decimal digits (no sign, spaces, fraction or exponent)', input: value });
    return z.NEVER;
  }, number);
}

/**
 * Query parameters given more than once (`?page=1&page=2`) that the route
 * takes one of: each one issue saying so, the only issue about it (the
 * schema would only say that a list is not a number, or not one of the
 * values). A parameter whose schema takes the list (an array) keeps it.
 */
export function repeatedQueryIssues(schema: z.ZodObject, query: Record<string, unknown>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (!Array.isArray(value) || !Object.hasOwn(schema.shape, name)) continue;
    const field = schema.shape[name] as z.ZodType;
    if (field.safeParse(value).success) continue;
    issues.push({ in: 'query', path: [name], message: `${name} may be given once`, code: 'repeated' });
  }
  return issues;
}
