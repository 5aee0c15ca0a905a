import {
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import type { Reporter, StepHandle } from '../../../src/lib/cli/reporter.js';
import type { TenantWorkflowInput } from '../../../src/lib/workflow/definition.js';
import {
  executionArnOf,
  executionName,
  followExecution,
  startExecution,
} from '../../../src/lib/workflow/sfn.js';

const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:saasctl-prod-onboarding';

const input: TenantWorkflowInput = {
  tenantId: 'acme',
  tier: 'enterprise',
  isolation: 'silo',
  name: 'Acme',
  adminEmail: 'ops@acme.test',
  region: 'us-east-1',
  stage: 'prod',
};

class RecordingReporter implements Reporter {
  readonly events: string[] = [];
  info(message: string): void {
    this.events.push(`info ${message}`);
  }
  warn(message: string): void {
    this.events.push(`warn ${message}`);
  }
  step(title: string): StepHandle {
    this.events.push(`step ${title}`);
    return {
      done: () => this.events.push(`done ${title}`),
      skipped: () => this.events.push(`skipped ${title}`),
      failed: () => this.events.push(`failed ${title}`),
    };
  }
}

const entered = (id: number, name: string): HistoryEvent => ({
  id,
  timestamp: new Date(0),
  type: 'TaskStateEntered',
  stateEnteredEventDetails: { name },
});
const exited = (id: number, name: string): HistoryEvent => ({
  id,
  timestamp: new Date(0),
  type: 'TaskStateExited',
  stateExitedEventDetails: { name },
});

describe('Step Functions executions', () => {
  let sfn: AwsClientStub<SFNClient>;
  // Created here, not at module level: stubs are process-wide.
  before(() => {
    sfn = mockClient(SFNClient);
  });
  after(() => sfn.restore());
  beforeEach(() => sfn.reset());

  describe('executionName', () => {
    it('is the same for the same request and differs for another, within the naming rules', () => {
      const name = executionName('onboarding', input);
      expect(name).to.equal(executionName('onboarding', { ...input }));
      expect(name).to.not.equal(executionName('onboarding', { ...input, name: 'Acme Corp' }));
      expect(name).to.match(/^onboarding-acme-[0-9a-f]{16}$/);
      const longest = executionName('offboarding', { ...input, tenantId: 'a'.repeat(32) });
      expect(longest.length).to.be.at.most(80);
      expect(longest).to.match(/^[A-Za-z0-9_-]+$/);
    });
  });

  describe('startExecution', () => {
    it('starts an execution named after the request, with the input as JSON', async () => {
      const client = new SFNClient({ region: 'us-east-1' });
      sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date(0) });
      const ref = await startExecution(client, STATE_MACHINE, 'onboarding', input);
      expect(ref).to.deep.equal({
        executionArn: 'arn:exec',
        name: executionName('onboarding', input),
        started: true,
      });
      expect(sfn.commandCalls(StartExecutionCommand)[0].args[0].input).to.deep.equal({
        stateMachineArn: STATE_MACHINE,
        name: executionName('onboarding', input),
        input: JSON.stringify(input),
      });
    });

    it('follows the existing execution when this request already started one', async () => {
      const client = new SFNClient({ region: 'us-east-1' });
      sfn
        .on(StartExecutionCommand)
        .rejects(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' }));
      const ref = await startExecution(client, STATE_MACHINE, 'onboarding', input);
      expect(ref.started).to.equal(false);
      expect(ref.executionArn).to.equal(
        `arn:aws:states:us-east-1:123456789012:execution:saasctl-prod-onboarding:${ref.name}`,
      );
      expect(ref.executionArn).to.equal(executionArnOf(STATE_MACHINE, ref.name));
    });
  });

  describe('followExecution', () => {
    it('shows each step once as the history grows, until the execution succeeds', async () => {
      const client = new SFNClient({ region: 'us-east-1' });
      const reporter = new RecordingReporter();
      sfn
        .on(GetExecutionHistoryCommand)
        .resolvesOnce({ events: [entered(2, 'CreateTenantRecord')] })
        .resolvesOnce({
          events: [entered(2, 'CreateTenantRecord'), exited(3, 'CreateTenantRecord')],
          nextToken: 't',
        })
        .resolvesOnce({ events: [entered(4, 'CreateTenantKey'), exited(5, 'CreateTenantKey')] })
        .resolves({
          events: [
            entered(2, 'CreateTenantRecord'),
            exited(3, 'CreateTenantRecord'),
            entered(4, 'CreateTenantKey'),
            exited(5, 'CreateTenantKey'),
            { id: 6, timestamp: new Date(0), type: 'ExecutionSucceeded' },
          ],
        });
      const outcome = await followExecution(client, 'arn:exec', reporter, { sleep: async () => undefined });
      expect(outcome).to.deep.equal({
        executionArn: 'arn:exec',
        status: 'SUCCEEDED',
        completedSteps: ['CreateTenantRecord', 'CreateTenantKey'],
      });
      expect(reporter.events).to.deep.equal([
        'step CreateTenantRecord',
        'done CreateTenantRecord',
        'step CreateTenantKey',
        'done CreateTenantKey',
      ]);
      expect(sfn.commandCalls(GetExecutionHistoryCommand)[2].args[0].input).to.deep.equal({
        executionArn: 'arn:exec',
        maxResults: 1000,
        nextToken: 't',
      });
    });

    it('fails naming the step that was running and the error of the execution', async () => {
      const client = new SFNClient({ region: 'us-east-1' });
      const reporter = new RecordingReporter();
      sfn.on(GetExecutionHistoryCommand).resolves({
        events: [
          entered(2, 'CreateTenantKey'),
          {
            id: 3,
            timestamp: new Date(0),
            type: 'ExecutionFailed',
            executionFailedEventDetails: { error: 'onboarding.Failed', cause: 'A step failed' },
          },
        ],
      });
      const error = await followExecution(client, 'arn:exec', reporter, {
        sleep: async () => undefined,
      }).then(
        () => expect.fail('the execution failed'),
        (e: unknown) => e as Error & { code: string },
      );
      expect(error.code).to.equal('WORKFLOW_FAILED');
      expect(error.message).to.equal(
        'The execution failed at CreateTenantKey: onboarding.Failed (A step failed).',
      );
      expect(reporter.events).to.deep.equal(['step CreateTenantKey', 'failed CreateTenantKey']);
    });
  });
});
