import { expect } from 'chai';

import type { Reporter, StepHandle } from '../../../src/lib/cli/reporter.js';
import type { WorkflowProgress } from '../../../src/lib/tenants/catalog.js';
import type { TenantWorkflowInput, WorkflowDefinition } from '../../../src/lib/workflow/definition.js';
import { InjectedFailure, runWorkflow } from '../../../src/lib/workflow/runner.js';

const silent: Reporter = {
  info() {},
  warn() {},
  step(): StepHandle {
    return { done() {}, skipped() {}, failed() {} };
  },
};

const input: TenantWorkflowInput = {
  tenantId: 'acme',
  tier: 'pro',
  isolation: 'pool',
  name: 'Acme',
  adminEmail: 'ops@acme.test',
  region: 'us-east-1',
  stage: 'test',
};

function failing(name: string, times: number): Error & { remaining: number } {
  return Object.assign(new Error(`${name}!`), { name, remaining: times });
}

/** A workflow whose steps log their runs and fail as told. */
function workflow(failures: Record<string, Error & { remaining: number }> = {}) {
  const runs: string[] = [];
  const step = (name: string, extra: Partial<WorkflowDefinition<unknown>['steps'][number]> = {}) => ({
    name,
    title: () => name,
    retry: [{ errors: ['ThrottlingException'], intervalSeconds: 1, maxAttempts: 2, backoffRate: 3 }],
    async run() {
      runs.push(name);
      const failure = failures[name];
      if (failure && failure.remaining > 0) {
        failure.remaining--;
        throw failure;
      }
      return { changed: true };
    },
    ...extra,
  });
  const definition: WorkflowDefinition<unknown> = {
    name: 'onboarding',
    comment: 'test',
    steps: [step('First'), step('SiloOnly', { appliesTo: ['silo'] }), step('Last')],
  };
  return { definition, runs };
}

describe('runWorkflow', () => {
  let progress: WorkflowProgress[];
  let slept: number[];
  const sink = { record: async (_tenant: string, p: WorkflowProgress) => void progress.push(p) };
  const options = () => ({ sleep: async (ms: number) => void slept.push(ms), now: () => new Date(0) });

  beforeEach(() => {
    progress = [];
    slept = [];
  });

  it('runs the steps in order, skipping those that do not apply to the isolation model', async () => {
    const { definition, runs } = workflow();
    const reports = await runWorkflow(definition, input, {}, sink, silent, options());
    expect(runs).to.deep.equal(['First', 'Last']);
    expect(reports.map((r) => r.step)).to.deep.equal(['First', 'Last']);
    expect(progress.map((p) => [p.status, p.step ?? '-', p.completedSteps.join(',')])).to.deep.equal([
      ['RUNNING', 'First', ''],
      ['RUNNING', 'Last', 'First'],
      ['SUCCEEDED', '-', 'First,Last'],
    ]);
  });

  it('runs silo-only steps for a silo tenant', async () => {
    const { definition, runs } = workflow();
    await runWorkflow(definition, { ...input, isolation: 'silo' }, {}, sink, silent, options());
    expect(runs).to.deep.equal(['First', 'SiloOnly', 'Last']);
  });

  it('retries a matching error with Step Functions backoff, then carries on', async () => {
    const { definition, runs } = workflow({ First: failing('ThrottlingException', 2) });
    const reports = await runWorkflow(definition, input, {}, sink, silent, options());
    expect(runs).to.deep.equal(['First', 'First', 'First', 'Last']);
    expect(slept).to.deep.equal([1000, 3000]);
    expect(reports[0].attempts).to.equal(3);
  });

  it('gives up after maxAttempts retries and records the failed step and its error', async () => {
    const { definition, runs } = workflow({ First: failing('ThrottlingException', 3) });
    const error = await runWorkflow(definition, input, {}, sink, silent, options()).catch((e: unknown) => e);
    expect((error as Error).name).to.equal('ThrottlingException');
    expect(runs).to.deep.equal(['First', 'First', 'First']);
    expect(progress.at(-1)).to.deep.equal({
      workflow: 'onboarding',
      status: 'FAILED',
      step: 'First',
      completedSteps: [],
      error: { name: 'ThrottlingException', message: 'ThrottlingException!' },
      updatedAt: new Date(0).toISOString(),
    });
  });

  it('does not retry an error no retrier names', async () => {
    const { definition, runs } = workflow({ Last: failing('ValidationException', 1) });
    const error = await runWorkflow(definition, input, {}, sink, silent, options()).catch((e: unknown) => e);
    expect((error as Error).name).to.equal('ValidationException');
    expect(runs).to.deep.equal(['First', 'Last']);
    expect(slept).to.deep.equal([]);
    expect(progress.at(-1)).to.include({ status: 'FAILED', step: 'Last' });
  });

  it('fails the named step once when the test switch asks, and succeeds on the re-run', async () => {
    const { definition, runs } = workflow();
    const error = await runWorkflow(definition, input, {}, sink, silent, {
      ...options(),
      failOnce: 'Last',
    }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(InjectedFailure);
    expect(runs).to.deep.equal(['First']);
    await runWorkflow(definition, input, {}, sink, silent, options());
    expect(progress.at(-1)?.status).to.equal('SUCCEEDED');
  });
});
