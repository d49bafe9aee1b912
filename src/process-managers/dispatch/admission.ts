import { IdempotencyConflictError } from '../../event-store/errors.js';
import { checkAgainstPlan, runNeeds, workflowType, type Refusal } from '../../platforms/registry.js';
import { DomainError } from '../../write-model/core/domain-error.js';
import { isDailyCounter, type AnyPlan, type DailyCounterFeature, type Service } from '../../write-model/subscription/plans.js';
import type { ExecutionRequestedData, RejectionCode } from '../../write-model/workflow-execution/events.js';
import type { AccountView } from './subjects.js';

/**
 * Whether a requested run may go, from what was read for it: pure, so the
 * batch path (the process manager's own index) and the one-by-one path
 * (the streams) judge alike.
 */

export interface Rejection {
  reason: RejectionCode;
  details: Record<string, unknown>;
}

/** The service a run bills to, or why the request is not valid. */
export function serviceOf(request: ExecutionRequestedData): { service: Service } | { rejection: Rejection } {
  const resolved = workflowType(request.type);
  if (!resolved || resolved.platform.id !== request.platform) {
    return {
      rejection: { reason: 'VALIDATION_ERROR', details: { type: request.type, platform: request.platform, message: `unknown workflow type ${request.type}` } },
    };
  }
  return { service: resolved.platform.service as Service };
}

/** A daily counter the run spends. */
export interface QuotaNeed {
  feature: DailyCounterFeature;
  amount: number;
}

/**
 * The plan's and the account's verdict: refused, or allowed (spending
 * `quota` first when the type consumes a daily counter). `account` is read
 * only when the run needs one (the callback gives it).
 */
export async function judge(
  request: ExecutionRequestedData,
  plan: AnyPlan,
  account: (accountId: string) => Promise<AccountView>,
): Promise<{ rejection: Rejection } | { quota: QuotaNeed | null }> {
  const refused = fromRefusals(checkAgainstPlan(request.type, request.config, plan));
  if (refused) return { rejection: refused };
  const needs = runNeeds(request.type, request.config, plan)!;
  if (needs.needsAccount) {
    const problem = request.platformAccountId === null ? noAccount(request) : accountProblem(request, await account(request.platformAccountId));
    if (problem) return { rejection: { reason: 'ACCOUNT_INVALID', details: problem } };
  }
  if (needs.use !== 'consume' || !isDailyCounter(needs.feature)) return { quota: null };
  return { quota: { feature: needs.feature, amount: needs.amount } };
}

function noAccount(request: ExecutionRequestedData): Record<string, unknown> {
  return { reason: 'no_account', message: `${request.type} needs a connected ${request.platform} account` };
}

function accountProblem(request: ExecutionRequestedData, account: AccountView): Record<string, unknown> | null {
  if (account.status === 'none' || account.ownerId !== request.ownerId) {
    return { reason: 'unknown_account', accountId: request.platformAccountId, message: 'the platform account does not exist' };
  }
  if (account.status !== 'active') {
    return { reason: 'account_not_active', accountId: request.platformAccountId, status: account.status, message: `the platform account is ${account.status}` };
  }
  return null;
}

/**
 * What a quota use's error means for the run: null (it may go), a rejection,
 * or rethrown (not a verdict: the batch is retried).
 */
export function fromQuotaError(error: unknown, need: QuotaNeed, service: Service): Rejection | null {
  // these ids are in another day's usage stream: this request's use was counted on that day
  if (error instanceof IdempotencyConflictError) return null;
  if (!(error instanceof DomainError)) throw error;
  if (error.code === 'QUOTA_EXCEEDED') return { reason: 'QUOTA_EXCEEDED', details: { ...error.details, message: error.message } };
  if (error.code === 'PERMISSION_DENIED') return { reason: 'PERMISSION_DENIED', details: { ...error.details, feature: need.feature, message: error.message } };
  // no subscription: the free-plans process manager starts one at registration, so this is an account without any
  if (error.code === 'NOT_FOUND') return { reason: 'PERMISSION_DENIED', details: { reason: 'no_subscription', service, message: error.message } };
  throw error;
}

/** The API's mapping (application/workflows.ts): a missing feature is PERMISSION_DENIED, a run over a limit QUOTA_EXCEEDED. */
function fromRefusals(refusals: Refusal[]): Rejection | null {
  if (refusals.length === 0) return null;
  const all = refusals.map((r) => ({ feature: r.feature, reason: r.reason, message: r.message, ...(r.details ?? {}) }));
  const invalid = refusals.find((r) => r.reason === 'invalid_config' || r.reason === 'unknown_type' || r.reason === 'wrong_service');
  if (invalid) return { reason: 'VALIDATION_ERROR', details: { reason: invalid.reason, message: invalid.message, refusals: all } };
  const denied = refusals.find((r) => r.reason !== 'over_limit');
  if (denied) return { reason: 'PERMISSION_DENIED', details: { feature: denied.feature, reason: denied.reason, message: denied.message, refusals: all } };
  const over = refusals[0]!;
  return { reason: 'QUOTA_EXCEEDED', details: { ...(over.details ?? {}), feature: over.feature, message: over.message, refusals: all } };
}
