/**
 * A command refused by the domain. The code is one of the API's error codes,
 * so an adapter can answer without knowing the aggregate.
 */
export type DomainErrorCode = 'VALIDATION_ERROR' | 'PERMISSION_DENIED' | 'NOT_FOUND' | 'CONFLICT' | 'QUOTA_EXCEEDED';

export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
