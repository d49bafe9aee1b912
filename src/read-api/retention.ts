import { currentPlan } from '../application/subscription-quotas.js';
import type { EventStore } from '../event-store/port.js';
import type { Service } from '../write-model/subscription/plans.js';

const DAY_MS = 86_400_000;

export interface Retention {
  /** the owner's plan's data_retention_days */
  days: number;
  /** rows collected before this instant are not shown (nor exported) */
  cutoff: Date;
}

/**
 * What the owner's current plan keeps visible: data collected within the last
 * data_retention_days (free 7, basic 30, pro 90, enterprise 365). Reads hide
 * older rows; nothing is deleted here, so an upgrade shows them again until a
 * daily retention job (src/application/retention.ts) removes them.
 */
export async function retentionFor(store: EventStore, ownerId: string, service: Service, now: Date): Promise<Retention> {
  const plan = await currentPlan(store, ownerId, service);
  const days = plan.features.data_retention_days;
  return { days, cutoff: new Date(now.getTime() - days * DAY_MS) };
}
