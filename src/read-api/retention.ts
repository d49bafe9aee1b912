import { currentPlan } from '../application/subscription-quotas.js';
import type { EventStore } from '../event-store/port.js';
import type { PlanFor, Service } from '../write-model/subscription/plans.js';

const DAY_MS = 86_400_000;

export interface Retention<S extends Service = Service> {
  /** the owner's current plan (its other checks need it too) */
  plan: PlanFor<S>;
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
export async function retentionFor<S extends Service>(store: EventStore, ownerId: string, service: S, now: Date): Promise<Retention<S>> {
  const plan = await currentPlan(store, ownerId, service);
  const days = plan.features.data_retention_days;
  return { plan, days, cutoff: new Date(now.getTime() - days * DAY_MS) };
}
