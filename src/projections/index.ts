import type { Consumer } from '../subscriptions/consumer.js';
import { subscriptionsProjection } from './subscriptions.js';
import { usersProjection } from './users.js';

/**
 * The read models the projector keeps up to date, one Consumer each (its own
 * checkpoint). Later issues add theirs here; the projector starts every one.
 */
export const projections: Consumer[] = [usersProjection, subscriptionsProjection];
