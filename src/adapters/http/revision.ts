import { formatPosition, type Position } from '../../event-store/position.js';
import { ok } from './envelope.js';
import { HttpError } from './http-error.js';
import type { AppContext } from './state.js';

/**
 * a revision as ETags carry it (no leading zeros: `"01"` is not the tag `"1"`, and strong comparison is exact),
 * or -1: the ETag of a resource whose stream has no event yet ("nothing written since")
 */
const STRONG_REVISION_TAG = /^"(-1|0|[1-9]\d{0,19})"$/;

/**
 * The stream revision the caller last saw, from `If-Match: "<revision>"` (the
 * ETag a command or query answered). Undefined without the header; a weak tag
 * (`W/"3"`), `*`, a list or anything else → 400 INVALID_IF_MATCH, since only an
 * exact revision can be compared. `"-1"`, the ETag answered for a resource
 * never written, expects it still unwritten. Pass it to handle() as
 * expectedRevision: a mismatch then answers 412 PRECONDITION_FAILED.
 */
export function ifMatchRevision(ctx: AppContext): bigint | undefined {
  const header = ctx.get('If-Match').trim();
  if (header === '') return undefined;
  const match = STRONG_REVISION_TAG.exec(header);
  if (!match) {
    throw new HttpError(400, 'INVALID_IF_MATCH', 'If-Match must be one strong entity tag holding a revision, e.g. "3"', { got: header });
  }
  return BigInt(match[1]!);
}

export interface CommandOutcome {
  /** the stream's revision after the command */
  revision: bigint;
  /** where the last written event stands in $all; undefined when nothing was written */
  position: Position | undefined;
}

/** The `data` of a command's answer: revision and position as strings (bigints do not fit JSON numbers). */
export interface CommandResultData {
  revision: string;
  position: string | null;
}

/**
 * Answers a command: `{revision, position: "<commit>-<prepare>"}` in the
 * envelope, the revision also as `ETag: "<revision>"` for the next If-Match.
 * The position can be given to a query as `?after_position=` to read the write.
 */
export function commandResult(ctx: AppContext, outcome: CommandOutcome, options: { status?: number; extra?: Record<string, unknown> } = {}): void {
  const data: CommandResultData & Record<string, unknown> = {
    ...options.extra,
    revision: outcome.revision.toString(),
    position: outcome.position ? formatPosition(outcome.position) : null,
  };
  ctx.set('ETag', `"${outcome.revision}"`);
  ok(ctx, data, options.status ?? 200);
}
