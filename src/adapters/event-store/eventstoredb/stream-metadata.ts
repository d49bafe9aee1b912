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
