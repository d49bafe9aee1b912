import { combineCodecs } from './core/event-codec.js';
import { novelTrackingEvents, type NovelTrackingEvent } from './novel-tracking/events.js';

/**
 * Every aggregate's events as one decoder, for consumers of `$all`
 * (projections, process managers, the worker, the CLI and the console).
 * A new aggregate adds its codec and its event union here.
 */
export type AnyDomainEvent = NovelTrackingEvent;

export const domainEvents = combineCodecs<AnyDomainEvent>([novelTrackingEvents]);
