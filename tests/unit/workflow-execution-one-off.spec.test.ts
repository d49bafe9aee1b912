import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { workflowExecutionDecider as decider, workflowExecutionEvents, type RequestExecution } from '../../src/write-model/workflow-execution/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(decider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;

const EX = 'ex-one-off';
const OWNER = 'user-1';
const T0 = '2026-12-01T10:00:00.000Z';
const CONFIG = { mode: 'keyword', keyword: '咖啡', maxItems: 20 };

/** A collection without a saved workflow (POST /xiaohongshu/contents/collect): its own execution id stands for the workflow. */
const oneOff: RequestExecution = {
  type: 'RequestExecution',
  executionId: EX,
  workflowId: EX,
  ownerId: OWNER,
  platform: 'xiaohongshu',
  workflowType: 'xiaohongshu.notes',
  config: CONFIG,
  platformAccountId: 'acc-1',
  trigger: 'one_off',
  requestedBy: OWNER,
  now: T0,
};

describe('WorkflowExecution: one-off runs (trigger one_off)', () => {
  it('records the request, with the execution id as its workflow id', () => {
    spec
      .given([])
      .when(oneOff)
      .then([
        {
          type: 'ExecutionRequested',
          data: {
            executionId: EX,
            workflowId: EX,
            ownerId: OWNER,
            platform: 'xiaohongshu',
            type: 'xiaohongshu.notes',
            config: CONFIG,
            platformAccountId: 'acc-1',
            trigger: 'one_off',
            requestedBy: OWNER,
            requestedAt: T0,
          },
        },
      ]);
  });

  it('refuses a one-off run that names a workflow, or that someone else requests', () => {
    spec
      .given([])
      .when({ ...oneOff, workflowId: 'wf-1' })
      .thenThrows(DomainError, code('VALIDATION_ERROR'));
    spec
      .given([])
      .when({ ...oneOff, requestedBy: 'user-2' })
      .thenThrows(DomainError, code('PERMISSION_DENIED'));
    spec
      .given([])
      .when({ ...oneOff, requestedBy: null })
      .thenThrows(DomainError, code('PERMISSION_DENIED'));
  });

  it("decodes the stored event (the trigger is one of the codec's)", () => {
    const [event] = decider.decide(oneOff, decider.initialState());
    const decoded = workflowExecutionEvents.decode({ type: event!.type, data: event!.data });
    expect(decoded.data).to.deep.include({ trigger: 'one_off', workflowId: EX });
  });
});
