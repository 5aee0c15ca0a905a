import { expect } from 'chai';

import { conflict } from '../../../src/lib/cli/errors.js';
import type { WorkflowProgress } from '../../../src/lib/tenants/catalog.js';
import type { WorkflowDefinition } from '../../../src/lib/workflow/definition.js';
import { handleStep, type StepEvent } from '../../../src/lib/workflow/lambda.js';

const event: StepEvent = {
  tenantId: 'acme',
  tier: 'enterprise',
  isolation: 'silo',
  name: 'Acme',
  adminEmail: 'ops@acme.test',
  region: 'us-east-1',
  stage: 'prod',
};

const definition: WorkflowDefinition<{ fail: boolean }> = {
  name: 'onboarding',
  comment: 'test',
  steps: [
    { name: 'First', title: () => 'first', retry: [], run: async () => ({ changed: true, detail: 'one' }) },
    {
      name: 'Second',
      title: () => 'second',
      retry: [],
      run: async (_input, services) => {
        if (services.fail) throw conflict('TENANT_EXISTS', 'differs');
        return { changed: false };
      },
    },
  ],
};

describe('handleStep (the Lambda of a workflow step)', () => {
  let recorded: WorkflowProgress[];
  const sink = { record: async (_tenant: string, p: WorkflowProgress) => void recorded.push(p) };
  const now = () => new Date(0);

  beforeEach(() => {
    recorded = [];
  });

  it('runs the named step and records it as running, with the steps already completed', async () => {
    const outcome = await handleStep(
      definition,
      'Second',
      { ...event, results: { First: {} } },
      { fail: false },
      sink,
      now,
    );
    expect(outcome).to.deep.equal({ changed: false });
    expect(recorded).to.deep.equal([
      {
        workflow: 'onboarding',
        status: 'RUNNING',
        step: 'Second',
        completedSteps: ['First'],
        updatedAt: new Date(0).toISOString(),
      },
    ]);
  });

  it("rethrows a saasctl error under its code, which the state machine's Retry and Catch match on", async () => {
    const error = await handleStep(definition, 'Second', event, { fail: true }, sink, now).then(
      () => expect.fail('the step failed'),
      (e: unknown) => e as Error,
    );
    expect(error.name).to.equal('TENANT_EXISTS');
    expect(error.message).to.equal('differs');
  });

  it('records the failure the Catch hands to RecordFailure on the first step not completed', async () => {
    await handleStep(
      definition,
      'RecordFailure',
      {
        ...event,
        results: { First: {} },
        error: { Error: 'TENANT_EXISTS', Cause: '{"errorMessage":"differs"}' },
      },
      { fail: false },
      sink,
      now,
    );
    expect(recorded).to.deep.equal([
      {
        workflow: 'onboarding',
        status: 'FAILED',
        step: 'Second',
        completedSteps: ['First'],
        error: { name: 'TENANT_EXISTS', message: '{"errorMessage":"differs"}' },
        updatedAt: new Date(0).toISOString(),
      },
    ]);
  });

  it('refuses a step the workflow does not have', async () => {
    const error = await handleStep(definition, 'Third', event, { fail: false }, sink, now).then(
      () => expect.fail('there is no step Third'),
      (e: unknown) => e as Error,
    );
    expect(error.message).to.equal('onboarding has no step Third');
  });
});
