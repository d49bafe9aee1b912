export { DEADLINES, createExpirySchedule, type ExpiryScheduleOptions } from './expiry-schedule.js';
export { DeadlineSweeper, SWEEPER_ACTOR, type SweeperOptions } from './sweeper.js';
export { expiryActions, type DeadlineAction } from './expiry-actions.js';
export { deadlineKey, type Deadline, type DeadlineKind } from './deadline-table.js';
export { resumeActions, RESUME_AFTER_QUOTA } from './resume-actions.js';
export { oauthRefreshActions, type OAuthRefreshOptions } from './oauth-refresh-actions.js';
export {
  createOAuthRefreshSchedule,
  DEFAULT_OAUTH_REFRESH_LEAD_MS,
  OAUTH_REFRESH,
  OAUTH_REFRESH_SCHEDULE,
  oauthRefreshDueAt,
} from './oauth-refresh-schedule.js';
export { publicationActions, PUBLICATION_DUE_DEADLINE } from './publication-actions.js';
export { renewalActions, renewalOrderId, SUBSCRIPTION_RENEWAL, DEFAULT_RENEWAL_LEAD_MS, type RenewalOptions } from './renewal-actions.js';
