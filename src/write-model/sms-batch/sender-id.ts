/**
 * A sender id as networks take it: alphanumeric, 1–11 characters of
 * A-Z a-z 0-9 and space with at least one letter (`ACME`, `Shop 24`), or a
 * number of 3–15 digits (a long code or short code, `+` allowed in front).
 */
export const MAX_ALPHANUMERIC_SENDER = 11;

export function senderIdProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'sender_id must be a string';
  if (/^\+?\d{3,15}$/.test(value)) return null;
  if (!/^[A-Za-z0-9 ]{1,11}$/.test(value)) return `sender_id must be 1-${MAX_ALPHANUMERIC_SENDER} letters, digits and spaces, or a number of 3-15 digits`;
  if (!/[A-Za-z]/.test(value)) return 'an alphanumeric sender_id needs a letter';
  if (value.trim() !== value) return 'sender_id must not start or end with a space';
  return null;
}
