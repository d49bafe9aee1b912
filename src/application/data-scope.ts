/** A caller as the data scope sees them: who they are, and whose resources their scope reaches (docs/rbac.md). */
export interface ScopedCaller {
  userId: string;
  /** ctx.state.access.ownerIds; absent: the caller's own alone */
  ownerIds?: readonly string[] | undefined;
}

/** The owners whose resources the caller reaches. */
export function ownersOf(caller: ScopedCaller): readonly string[] {
  return caller.ownerIds ?? [caller.userId];
}

/** Whether the owner's resources are in the caller's data scope. */
export function reaches(caller: ScopedCaller, ownerId: string): boolean {
  return ownersOf(caller).includes(ownerId);
}
