import type { StreamMetadata as ClientStreamMetadata } from '@eventstore/db-client';
import type { Json, StreamMetadata } from '../../../event-store/port.js';

/** Keys the client maps onto EventStoreDB's `$` settings: custom keys by these names would be misread. */
const RESERVED = new Set(['maxAge', 'maxCount', 'truncateBefore', 'cacheControl', 'acl']);

/** Custom keys sit beside the system ones, as every EventStoreDB tool expects them. */
export function toClientStreamMetadata(streamName: string, metadata: StreamMetadata): ClientStreamMetadata {
  const out: ClientStreamMetadata = {};
  for (const [key, value] of Object.entries(metadata.custom ?? {})) {
    if (RESERVED.has(key) || key.startsWith('$')) {
      throw new TypeError(`stream ${streamName}: custom metadata key "${key}" is reserved by EventStoreDB`);
    }
    out[key] = value;
  }
  if (metadata.maxAge !== undefined) out.maxAge = metadata.maxAge;
  if (metadata.maxCount !== undefined) out.maxCount = metadata.maxCount;
  if (metadata.truncateBefore !== undefined) {
    // stream metadata is JSON and the client insists on a JS integer: refuse what it would round
    if (metadata.truncateBefore < 0n || metadata.truncateBefore > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`stream ${streamName}: truncateBefore ${metadata.truncateBefore} is beyond what EventStoreDB metadata can carry exactly`);
    }
    out.truncateBefore = Number(metadata.truncateBefore);
  }
  return out;
}

export function fromClientStreamMetadata(metadata: ClientStreamMetadata | undefined): StreamMetadata {
  const out: StreamMetadata = {};
  if (!metadata) return out;
  const custom: { [key: string]: Json } = {};
  let hasCustom = false;
  for (const [key, value] of Object.entries(metadata)) {
    switch (key) {
      case 'maxAge':
        if (typeof value === 'number') out.maxAge = value;
        break;
      case 'maxCount':
        if (typeof value === 'number') out.maxCount = value;
        break;
      case 'truncateBefore':
        // a soft delete writes long.MaxValue here, which JSON.parse rounds: that is the server's marker, not the app's setting
        if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) out.truncateBefore = BigInt(value);
        break;
      case 'cacheControl':
      case 'acl':
        break;
      default:
        if (key.startsWith('$')) break;
        custom[key] = value as Json;
        hasCustom = true;
    }
  }
  if (hasCustom) out.custom = custom;
  return out;
}

/** The raw keys of the settings the port owns; every other `$` key is the server's or an operator's and is kept. */
const PORT_OWNED = new Set(['$maxAge', '$maxCount', '$tb']);

/**
 * A soft delete writes `$tb` = long.MaxValue (2^63 - 1); JSON.parse rounds it
 * to 2^63. No real truncation comes anywhere near 2^53.
 */
export function isSoftDeleteMarker(raw: Record<string, unknown> | undefined): boolean {
  const tb = raw?.['$tb'];
  return typeof tb === 'number' && tb > Number.MAX_SAFE_INTEGER;
}

/**
 * The body of the `$metadata` event a port metadata write appends, given the
 * stream's current one (raw, as stored). `undefined`: the stream is
 * soft-deleted and nothing may be written — the marker cannot be written back
 * exactly (JSON numbers lose 2^63 - 1 in JavaScript, and a rounded one makes
 * the server drop the whole metadata: the stream would come back with its old
 * events), and the server keeps nothing but the marker through a soft delete
 * anyway. Otherwise `$acl`, `$cacheControl` and other server keys are kept,
 * and `$tb` never moves back (it also hides a recreated stream's old events).
 */
export function metadataToWrite(streamName: string, current: Record<string, unknown> | undefined, next: StreamMetadata): Record<string, unknown> | undefined {
  if (isSoftDeleteMarker(current)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(current ?? {})) {
    if (key.startsWith('$') && !PORT_OWNED.has(key)) out[key] = value;
  }
  const wanted = toClientStreamMetadata(streamName, next);
  for (const [key, value] of Object.entries(wanted)) {
    if (key === 'maxAge') out['$maxAge'] = value;
    else if (key === 'maxCount') out['$maxCount'] = value;
    else if (key !== 'truncateBefore') out[key] = value;
  }
  const currentTb = current?.['$tb'];
  const kept = typeof currentTb === 'number' && Number.isSafeInteger(currentTb) && currentTb > 0 ? currentTb : undefined;
  const asked = typeof wanted.truncateBefore === 'number' ? wanted.truncateBefore : undefined;
  if (kept !== undefined || asked !== undefined) out['$tb'] = Math.max(kept ?? 0, asked ?? 0);
  return out;
}
