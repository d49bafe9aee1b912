import type { ProxyLeases } from '../ports.js';
import type { ScrapeJobs } from '../ports.js';
import type { ProcessManagerDeps } from '../shared.js';
import type { OverageCharger } from '../../application/ledger/overage.js';

export interface DispatchExecutionsDeps extends ProcessManagerDeps {
  dispatcher: ScrapeJobs;
  /** the quota day's zone (config QUOTA_TIME_ZONE) */
  timeZone: string;
  /** current leases and last lease times sharpen the choice; without it the read model alone decides */
  leases?: ProxyLeases;
  now?: () => Date;
  noProxyDelayMs?: number;
  /** a request older than this is handled one by one, its execution read first (default 15 minutes) */
  freshForMs?: number;
  /** most events per batch (default 1,000) */
  batchSize?: number;
  /** runs past the daily quota charged to the owner's balance when opted in (dispatch/overage.ts); none: refused */
  overage?: OverageCharger;
}
