import { z } from 'zod';
import {
  AppendTooLargeError,
  ConditionFailedError,
  IdempotencyConflictError,
  StreamNotFoundError,
  StreamTombstonedError,
  WrongExpectedVersionError,
} from '../../event-store/errors.js';
import { DomainError, type DomainErrorCode } from '../../write-model/core/domain-error.js';
import { HttpError } from './http-error.js';
import type { AppContext } from './state.js';

export const STATUS_BY_DOMAIN_CODE: Record<DomainErrorCode, number> = {
  VALIDATION_ERROR: 422,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  QUOTA_EXCEEDED: 429,
};

/** One zod issue as the API shows it: where (`in`: params, query, body), which field, what is wrong. */
export interface ValidationIssue {
  in?: 'params' | 'query' | 'body' | 'headers';
  path: (string | number)[];
  message: string;
  code: string;
}

export function zodIssues(error: z.core.$ZodError, location?: ValidationIssue['in']): ValidationIssue[] {
  return error.issues.map((issue) => ({
    ...(location ? { in: location } : {}),
    path: issue.path.map((part) => (typeof part === 'number' ? part : String(part))),
    message: issue.message,
    code: issue.code,
  }));
}

export function validationError(issues: ValidationIssue[], message = 'request is not valid'): HttpError {
  return new HttpError(422, 'VALIDATION_ERROR', message, { issues });
}

/** A query range whose `from` is after its `to`. */
export function rangeError(): HttpError {
  return new HttpError(422, 'VALIDATION_ERROR', 'from must not be after to', {
    issues: [{ in: 'query', path: ['from'], message: 'after to', code: 'custom' }],
  });
}

export interface MappedError {
  error: HttpError;
  headers?: Record<string, string>;
}

/**
 * What the client is told about a failure, or undefined when it is not one
 * the API knows (then: 500, details only in the log).
 */
export function mapError(error: unknown, ctx: AppContext): MappedError | undefined {
  const mapped = mapKnownError(error, ctx);
  return mapped && { ...mapped, error: withIssues(mapped.error) };
}

/**
 * Every 422 VALIDATION_ERROR carries `details.issues`, the shape the API
 * documents: a refusal without them (a decider's, naming its `field`; a
 * route's own) gets one issue made of its field, in the request's
 * snake_case, and its message. Its other details stay as they are.
 */
function withIssues(error: HttpError): HttpError {
  if (error.status !== 422 || error.code !== 'VALIDATION_ERROR') return error;
  const details = error.details !== null && typeof error.details === 'object' ? (error.details as Record<string, unknown>) : {};
  if (Array.isArray(details.issues)) return error;
  const field = typeof details.field === 'string' && details.field !== '' ? details.field : undefined;
  const issue: ValidationIssue = { path: field === undefined ? [] : pathOf(field), message: error.message, code: 'invalid' };
  return new HttpError(error.status, error.code, error.message, { ...details, issues: [issue] });
}

/** A field as a decider names it (`schedule.weekday`, `roles.0`) as the path a schema issue would have (`['schedule', 'weekday']`, `['roles', 0]`). */
function pathOf(field: string): (string | number)[] {
  return field.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)));
}

function mapKnownError(error: unknown, ctx: AppContext): MappedError | undefined {
  if (error instanceof HttpError) return { error };
  if (error instanceof DomainError) return fromDomainError(error);
  if (error instanceof z.core.$ZodError) return { error: validationError(zodIssues(error)) };
  if (error instanceof WrongExpectedVersionError) {
    const details = { expected: String(error.expected), actual: String(error.actual) };
    // the caller named the revision it saw (If-Match): its precondition failed
    if (ctx.get('If-Match') !== '') {
      return { error: new HttpError(412, 'PRECONDITION_FAILED', 'the resource changed since the revision given in If-Match', details) };
    }
    return { error: new HttpError(409, 'CONFLICT', 'the resource was changed concurrently; retry', details) };
  }
  if (error instanceof IdempotencyConflictError) return { error: new HttpError(409, 'CONFLICT', 'conflicting repeat of an earlier write') };
  // what the decision read kept changing under it (the callers read again a few times first)
  if (error instanceof ConditionFailedError) return { error: new HttpError(409, 'CONFLICT', 'the resource was changed concurrently; retry') };
  if (error instanceof StreamNotFoundError) return { error: new HttpError(404, 'NOT_FOUND', 'not found') };
  // what the event store takes in one write (EventStoreDB's MaxAppendSize): the request carries too much at once
  if (error instanceof AppendTooLargeError) return { error: new HttpError(413, 'PAYLOAD_TOO_LARGE', 'too much to record at once; send it in smaller parts') };
  if (error instanceof StreamTombstonedError) return { error: new HttpError(410, 'GONE', 'this resource was deleted for good') };
  return undefined;
}

function fromDomainError(error: DomainError): MappedError {
  const status = STATUS_BY_DOMAIN_CODE[error.code] ?? 400;
  if (error.code !== 'QUOTA_EXCEEDED') return { error: new HttpError(status, error.code, error.message, error.details) };

  // the feature, its limit and when it resets; Retry-After in seconds
  const { feature = null, limit = null, resets_at, resetsAt, subscriptionId, ...rest } = error.details as Record<string, unknown>;
  const resets = toDate(resets_at ?? resetsAt);
  // the plan and the subscription that counted it (an organization's, for its members)
  const counted = subscriptionId === undefined ? {} : { subscription_id: subscriptionId };
  const details = { ...rest, ...counted, feature, limit, resets_at: resets ? resets.toISOString() : null };
  const headers: Record<string, string> = {};
  if (resets) headers['Retry-After'] = String(Math.max(1, Math.ceil((resets.getTime() - Date.now()) / 1000)));
  return { error: new HttpError(429, 'QUOTA_EXCEEDED', error.message, details), headers };
}

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === 'string' || typeof value === 'number') {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}
