import type { Consumer } from '../subscriptions/consumer.js';
import { platformAccountsProjection } from './platform-accounts.js';
import { proxiesProjection } from './proxies.js';
import { proxyUsageProjection } from './proxy-usage.js';
import { qidianDataProjection } from './qidian-data.js';
import { subscriptionsProjection } from './subscriptions.js';
import { usersProjection } from './users.js';
import { workflowsProjection } from './workflows.js';
import { xiaohongshuContentProjection } from './xiaohongshu-content.js';

/**
 * The read models the projector keeps up to date, one Consumer each (its own
 * checkpoint). Later issues add theirs here; the projector starts every one.
 */
export const projections: Consumer[] = [usersProjection, subscriptionsProjection, platformAccountsProjection, proxiesProjection, proxyUsageProjection, xiaohongshuContentProjection, workflowsProjection, qidianDataProjection];
