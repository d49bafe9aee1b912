import { DomainError } from './domain-error.js';

/**
 * Checks deciders run on command fields. Commands arrive already shaped by
 * the adapters' zod schemas; these guard the domain's own rules and answer
 * VALIDATION_ERROR with the field named.
 */

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

const EARLIEST_MS = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** What a time outside the years every store keeps is told (Postgres's timestamptz has no year 0). */
export const KEPT_YEARS_MESSAGE = 'a time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z';

/** Whether an instant (ms since the epoch) falls in the years 0001–9999 once taken to UTC: a time every store and read table keeps. */
export function inKeptYears(ms: number): boolean {
  return ms >= EARLIEST_MS && ms <= LATEST_MS;
}

/** The most an `integer` column (Postgres int4) keeps, 2^31 − 1: a count, a rank or an image's side past it has no row to go in. */
export const MAX_INT32 = 2_147_483_647;

export function invalid(message: string, details: Record<string, unknown>): DomainError {
  return new DomainError('VALIDATION_ERROR', message, details);
}

/** Milliseconds since the epoch of an ISO-8601 time with a zone; VALIDATION_ERROR otherwise. */
export function instant(value: unknown, field: string): number {
  const ms = typeof value === 'string' && ISO_INSTANT.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw invalid(`${field} must be an ISO-8601 time with a zone`, { field, got: value });
  return ms;
}

export function requireText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${field} must not be empty`, { field });
  return value;
}

export function optionalText(value: unknown, field: string): string | null {
  return value === undefined || value === null ? null : requireText(value, field);
}

export function requireOneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (!allowed.includes(value as T)) throw invalid(`${field} must be one of ${allowed.join(', ')}`, { field, allowed, got: value });
  return value as T;
}
