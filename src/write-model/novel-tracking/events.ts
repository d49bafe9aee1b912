import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * The NovelTracking aggregate's events, stream `novel_tracking-{trackingId}`:
 * one user following one Qidian novel. The tracking id is name-based on
 * (user, novel) — the adapters derive it — so a user tracks a novel at most
 * once at a time. Times are ISO-8601 strings.
 */

/** What the owner wants to hear about (the alert process manager reads these). */
export interface NovelTrackingSettings {
  /** new chapters or words */
  notifyOnUpdate: boolean;
  /** the novel went 连载 → 完本 */
  notifyOnCompletion: boolean;
  /** alert only when at least this many words were added since the last alert; null = any update */
  wordCountThreshold: number | null;
}

export interface TrackingRef {
  trackingId: string;
  userId: string;
  /** the Qidian book id (digits) */
  novelId: string;
}

/** Started tracking, or started again after an untrack. */
export interface NovelTrackedData extends TrackingRef {
  /** the owner's label; null: the platform's title is shown */
  title: string | null;
  settings: NovelTrackingSettings;
  /** true when this tracking was untracked before (the stream goes on) */
  retracked: boolean;
  trackedAt: string;
}

/** The owner changed the label or the alert settings; the data is the state after. */
export interface NovelTrackingUpdatedData extends TrackingRef {
  title: string | null;
  settings: NovelTrackingSettings;
  updatedAt: string;
}

/** The owner stopped tracking; NovelTracked may start it again. */
export interface NovelUntrackedData extends TrackingRef {
  untrackedAt: string;
}

export type NovelTrackingEvent =
  | DomainEvent<'NovelTracked', NovelTrackedData>
  | DomainEvent<'NovelTrackingUpdated', NovelTrackingUpdatedData>
  | DomainEvent<'NovelUntracked', NovelUntrackedData>;

export const NOVEL_TRACKING_EVENT_TYPES = ['NovelTracked', 'NovelTrackingUpdated', 'NovelUntracked'] as const satisfies readonly NovelTrackingEvent['type'][];

// ---------------------------------------------------------------- decoding

const ref = { trackingId: z.string(), userId: z.string(), novelId: z.string() };
const settings = z.object({
  notifyOnUpdate: z.boolean(),
  notifyOnCompletion: z.boolean(),
  wordCountThreshold: z.number().int().nullable(),
});

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const novelTrackingEvents = eventCodec<NovelTrackingEvent>({
  NovelTracked: {
    schema: z.object({ ...ref, title: z.string().nullable(), settings, retracked: z.boolean(), trackedAt: z.string() }),
  },
  NovelTrackingUpdated: { schema: z.object({ ...ref, title: z.string().nullable(), settings, updatedAt: z.string() }) },
  NovelUntracked: { schema: z.object({ ...ref, untrackedAt: z.string() }) },
});
