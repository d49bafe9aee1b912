import type { EventCount, EventFilter } from '../../../event-store/port.js';
import { comparePositions, START, type Position } from '../../../event-store/position.js';
import { matchesFilter } from './filters.js';

export interface ScannedEvent {
  position: Position;
  type: string;
  streamName: string;
}

export interface ScanResult {
  /** events after `after` up to `upTo`, in order (system events included) */
  events: ScannedEvent[];
  /** true when nothing of (after, upTo] is left unread */
  complete: boolean;
}

/** Reads at most `limit` events of $all after `after`, up to and including `upTo`. */
export type ScanAll = (after: Position, upTo: Position, limit: number) => Promise<ScanResult>;

interface Anchor {
  position: Position;
  /** events matching the filter in (START, position], counted exactly */
  total: number;
}

interface Estimate {
  value: number;
  exact: boolean;
}

/**
 * EventStoreDB keeps no count of $all: the only exact count is a read. A
 * count here reads at most `pageSize` events per call and estimates what it
 * did not read, so a progress figure asked for on every poll costs a page,
 * not a scan of the store.
 *
 * It remembers exact running totals at positions it has counted to
 * (anchors, per filter). A total at a position is the nearest anchor below
 * it plus a bounded read onwards; where the read stops short, the rest is
 * interpolated to the next anchor above, or else extrapolated from the
 * density (matching events per byte of log) of what was just read — $all
 * positions are byte offsets of the log. A rebuild that asks again as it
 * moves on reads only what is new since its last anchor, and the estimate
 * turns exact as the anchors catch up. Scavenging removes events below old
 * anchors; the totals then run a little high, as an estimate may.
 */
export class EventCounter {
  private readonly anchors = new Map<string, Anchor[]>();

  constructor(
    private readonly scan: ScanAll,
    private readonly pageSize = 1_000,
    private readonly maxAnchors = 64,
  ) {}

  async count(after: Position, upTo: Position, filter?: EventFilter): Promise<EventCount> {
    if (comparePositions(after, upTo) >= 0) return { count: 0, exact: true };
    const anchors = this.anchorsFor(filter);
    if (!anchors.some((a) => comparePositions(a.position, after) === 0)) {
      // a short span (a projection's lag) is counted outright
      const direct = await this.scan(after, upTo, this.pageSize);
      if (direct.complete) return { count: matching(direct.events, filter), exact: true };
    }
    const from = await this.total(after, filter);
    const to = await this.total(upTo, filter);
    return { count: Math.max(0, Math.round(to.value - from.value)), exact: from.exact && to.exact };
  }

  private anchorsFor(filter: EventFilter | undefined): Anchor[] {
    const key = JSON.stringify([[...(filter?.eventTypes ?? [])].sort(), [...(filter?.streamPrefixes ?? [])].sort()]);
    let anchors = this.anchors.get(key);
    if (!anchors) this.anchors.set(key, (anchors = [{ position: START, total: 0 }]));
    return anchors;
  }

  /** Matching events in (START, position]: exact when the read reached it. */
  private async total(position: Position, filter: EventFilter | undefined): Promise<Estimate> {
    const anchors = this.anchorsFor(filter);
    let below = 0;
    for (let i = 0; i < anchors.length; i++) if (comparePositions(anchors[i]!.position, position) <= 0) below = i;
    const base = anchors[below]!;
    if (comparePositions(base.position, position) === 0) return { value: base.total, exact: true };

    const read = await this.scan(base.position, position, this.pageSize);
    const counted = base.total + matching(read.events, filter);
    if (read.complete) {
      this.remember(anchors, { position, total: counted });
      return { value: counted, exact: true };
    }
    const reached = read.events.at(-1)?.position ?? base.position;
    this.remember(anchors, { position: reached, total: counted });
    const above = anchors.find((a) => comparePositions(a.position, position) > 0);
    const rest = above
      ? ((above.total - counted) * span(reached, position)) / Math.max(1, span(reached, above.position))
      : (matching(read.events, filter) / Math.max(1, span(base.position, reached))) * span(reached, position);
    return { value: counted + Math.max(0, rest), exact: false };
  }

  private remember(anchors: Anchor[], anchor: Anchor): void {
    if (anchors.some((a) => comparePositions(a.position, anchor.position) === 0)) return;
    anchors.push(anchor);
    anchors.sort((a, b) => comparePositions(a.position, b.position));
    // the oldest positions go first; START always stays
    while (anchors.length > this.maxAnchors) anchors.splice(1, 1);
  }
}

function matching(events: readonly ScannedEvent[], filter: EventFilter | undefined): number {
  let n = 0;
  for (const event of events) if (matchesFilter(event.type, event.streamName, filter)) n++;
  return n;
}

/** Bytes of log between two positions (EventStoreDB's commit positions are log offsets). */
function span(from: Position, to: Position): number {
  return Math.max(0, Number(to.commit - from.commit));
}
