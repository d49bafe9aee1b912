import { randomUUID } from 'node:crypto';
import type { EventData, EventMetadata, Json } from '../../src/event-store/port.js';

/** The ~300-byte body every benchmark writes (fresh ids each time, so nothing compresses away). */
export type Payload = { [key: string]: Json };

const SKUS = ['SKU-10482', 'SKU-20931', 'SKU-33107', 'SKU-48220', 'SKU-59013'];
let counter = 0;

export function makePayload(): Payload {
  const n = counter++;
  return {
    orderId: randomUUID(),
    customerId: `cus_${(n * 7919) % 1_000_000}`,
    items: [
      { sku: SKUS[n % SKUS.length]!, quantity: 1 + (n % 3), unitPrice: 1999 },
      { sku: SKUS[(n + 2) % SKUS.length]!, quantity: 1, unitPrice: 4550 },
    ],
    currency: 'EUR',
    total: 1999 * (1 + (n % 3)) + 4550,
    channel: 'web',
    shippingAddress: { city: 'Lyon', postcode: '69002', country: 'FR' },
    placedAt: new Date().toISOString(),
  };
}

export function makeMetadata(): EventMetadata {
  return { $correlationId: randomUUID(), $causationId: randomUUID(), userId: `user-${counter % 5000}`, requestId: randomUUID() };
}

/** One event in our store's shape. */
export function makeEvent(): EventData {
  return { id: randomUUID(), type: 'OrderPlaced', data: makePayload(), metadata: makeMetadata() };
}

export function makeEvents(n: number): EventData[] {
  return Array.from({ length: n }, makeEvent);
}

export function payloadBytes(): { data: number; metadata: number } {
  return { data: JSON.stringify(makePayload()).length, metadata: JSON.stringify(makeMetadata()).length };
}
