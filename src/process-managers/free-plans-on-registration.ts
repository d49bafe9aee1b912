import type { Consumer } from '../consumers/consumer.js';
import { handle } from '../write-model/core/command-handler.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { SERVICES } from '../write-model/subscription/plans.js';
import { subscriptionAggregate, subscriptionKey } from '../write-model/subscription/decider.js';
import { organizationEvents } from '../write-model/organization/events.js';
import { userEvents } from '../write-model/user/events.js';
import { react, subscriptionIdFor, type ProcessManagerDeps } from './shared.js';

export const FREE_PLANS_ON_REGISTRATION = 'pm-free-plans-on-registration';
export const FREE_PLANS_ON_ORGANIZATION = 'pm-free-plans-on-organization';

/**
 * UserRegistered → StartSubscription on the free plan (no period
 * end) of every service in plans.ts.
 *
 * Idempotent: the event ids are named after the triggering event and the
 * service (`${name}:${event.id}:${service}` — two streams per event, so the
 * service is part of the name), and a repeated start with the plan the
 * stream started with is the decider's no-op. A CONFLICT (the stream was
 * started otherwise, e.g. a paid plan) means "already has a subscription":
 * swallowed.
 */
export function createFreePlansOnRegistration(deps: ProcessManagerDeps, name = FREE_PLANS_ON_REGISTRATION): Consumer {
  return {
    name,
    filter: { eventTypes: ['UserRegistered'] },
    async handle(events) {
      for (const event of events) {
        const decoded = userEvents.owns(event.type) ? userEvents.decode(event) : undefined;
        if (decoded?.type !== 'UserRegistered') continue;
        const data = decoded.data;
        for (const service of SERVICES) {
          await react(
            deps,
            name,
            event,
            async () => {
              await handle(
                deps.store,
                subscriptionAggregate,
                subscriptionKey(data.userId, service),
                {
                  type: 'StartSubscription',
                  subscriptionId: subscriptionIdFor(data.userId, service),
                  userId: data.userId,
                  service,
                  plan: 'free',
                  periodEnd: null,
                  now: data.registeredAt,
                },
                { context: contextFromEvent(event, name), eventIds: eventIdsFrom(`${name}:${event.id}:${service}`) },
              );
            },
            (error) => error instanceof DomainError && error.code === 'CONFLICT',
          );
        }
      }
    },
  };
}

/**
 * OrganizationCreated → StartSubscription on the free plan of every
 * service, held by the organization (`holderKind: organization`, stream
 * `subscription-{organizationId}_{service}`): the subscription its members
 * share (application/plan-holder.ts). Idempotent as the registration's:
 * ids named after the event and the service, a repeated start is the
 * decider's no-op, a CONFLICT (started otherwise) is swallowed.
 */
export function createFreePlansOnOrganization(deps: ProcessManagerDeps, name = FREE_PLANS_ON_ORGANIZATION): Consumer {
  return {
    name,
    filter: { eventTypes: ['OrganizationCreated'] },
    async handle(events) {
      for (const event of events) {
        const decoded = organizationEvents.owns(event.type) ? organizationEvents.decode(event) : undefined;
        if (decoded?.type !== 'OrganizationCreated') continue;
        const data = decoded.data;
        for (const service of SERVICES) {
          await react(
            deps,
            name,
            event,
            async () => {
              await handle(
                deps.store,
                subscriptionAggregate,
                subscriptionKey(data.organizationId, service),
                {
                  type: 'StartSubscription',
                  subscriptionId: subscriptionIdFor(data.organizationId, service),
                  userId: data.organizationId,
                  holderKind: 'organization',
                  service,
                  plan: 'free',
                  periodEnd: null,
                  now: data.createdAt,
                },
                { context: contextFromEvent(event, name), eventIds: eventIdsFrom(`${name}:${event.id}:${service}`) },
              );
            },
            (error) => error instanceof DomainError && error.code === 'CONFLICT',
          );
        }
      }
    },
  };
}
