/**
 * A set of ids as a plain JSON object (`{ id: true }`): O(1) membership and
 * updates in place, and it survives a snapshot's JSON round trip. Keys are
 * defined, not assigned, so an id like `__proto__` is an ordinary key.
 */
export type IdSet = Record<string, true>;

export function hasId(set: IdSet | undefined, id: string): boolean {
  return set !== undefined && Object.hasOwn(set, id);
}

export function addId(set: IdSet, id: string): void {
  Object.defineProperty(set, id, { value: true, enumerable: true, writable: true, configurable: true });
}

export function removeId(set: IdSet, id: string): void {
  delete set[id];
}
