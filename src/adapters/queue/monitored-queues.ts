import { QUEUE_NAMES } from './queues.js';
import { REBUILD_QUEUE } from './rebuild-job.js';

/**
 * Every BullMQ queue of the platform, as the operators see them: the live
 * monitor, the blockage detector, the interventions, bull-board and the
 * admin queue counts. A queue added to QUEUE_NAMES shows up here by itself;
 * `maintenance` (projection rebuilds, retention) is the worker's own.
 */
export const MONITORED_QUEUE_NAMES: readonly string[] = [...new Set<string>([...Object.values(QUEUE_NAMES), REBUILD_QUEUE])];
