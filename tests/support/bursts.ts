import { expect } from 'chai';

/** One answer of a burst. */
export interface BurstReply {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

/**
 * `count` requests made at once (each `request(i)` is started before any is
 * awaited), their answers in the order they were made.
 */
export async function burst<T>(count: number, request: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => request(i)));
}

/** How many answers had each status, as `{201: 1, 409: 11}`. */
export function statusCounts(replies: readonly BurstReply[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of replies) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

/** What a failed expectation shows of a burst: each status with its answer's error code (or the first characters). */
export function describeBurst(label: string, replies: readonly BurstReply[]): string {
  const lines = replies.map(
    (r) => `${r.status} ${r.body?.error ? `${r.body.error.code} ${JSON.stringify(r.body.error.details ?? {})}` : r.text.slice(0, 160)}`,
  );
  return `${label}: ${JSON.stringify(statusCounts(replies))}\n  ${lines.join('\n  ')}`;
}

/** Never a 5xx, and every status one of `allowed`. */
export function expectOnly(label: string, replies: readonly BurstReply[], allowed: readonly number[]): void {
  for (const r of replies) {
    expect(r.status, describeBurst(label, replies)).to.be.below(500);
    expect(r.status, describeBurst(label, replies)).to.be.oneOf([...allowed]);
  }
}

/** The answers with this status. */
export const withStatus = (replies: readonly BurstReply[], status: number): BurstReply[] => replies.filter((r) => r.status === status);

/** `<commit>-<prepare>` as a pair to compare. */
function positionKey(position: string): [bigint, bigint] {
  const [commit, prepare] = position.split('-');
  return [BigInt(commit ?? '0'), BigInt(prepare ?? '0')];
}

/** The latest `data.position` the answers carry (for `?after_position=`); undefined when none wrote. */
export function latestPosition(replies: readonly BurstReply[]): string | undefined {
  let latest: string | undefined;
  for (const r of replies) {
    const position = r.body?.data?.position;
    if (typeof position !== 'string') continue;
    if (!latest) {
      latest = position;
      continue;
    }
    const [a, b] = [positionKey(position), positionKey(latest)];
    if (a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])) latest = position;
  }
  return latest;
}
