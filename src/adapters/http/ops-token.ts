import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether an `Authorization` header carries the ops token: what /readyz and
 * /metrics ask of a caller, in every process that serves them. Without a
 * configured token everything passes (development).
 */
export function opsTokenCheck(opsToken: string | undefined): (authorization: string | undefined) => boolean {
  if (!opsToken) return () => true;
  // both sides hashed to one length, so the comparison takes the same time whatever was sent
  const expected = createHash('sha256').update(`Bearer ${opsToken}`).digest();
  return (authorization) =>
    timingSafeEqual(
      createHash('sha256')
        .update(authorization ?? '')
        .digest(),
      expected,
    );
}
