import validate from 'asl-validator';
import { expect } from 'chai';

import { renderAsl, RECORD_FAILURE_STATE } from '../../../src/lib/workflow/asl.js';
import { onboardingWorkflow } from '../../../src/lib/workflow/onboarding.js';

const arn = (step: string) => `arn:aws:lambda:us-east-1:123456789012:function:saasctl-test-${step}`;

describe('renderAsl', () => {
  const asl = renderAsl(onboardingWorkflow, arn);

  it('renders a state machine that asl-validator accepts', () => {
    const result = validate(asl);
    expect(result.isValid, result.errorsText()).to.equal(true);
  });

  it('names one Lambda task per step, in order, plus the failure recorder', () => {
    const tasks = Object.entries(asl.States)
      .filter(([, state]) => state.Type === 'Task')
      .map(([name, state]) => [name, (state.Parameters as { FunctionName: string }).FunctionName]);
    expect(tasks).to.deep.equal([
      ...onboardingWorkflow.steps.map((step) => [step.name, arn(step.name)]),
      [RECORD_FAILURE_STATE, arn(RECORD_FAILURE_STATE)],
    ]);
  });

  it('branches on the isolation model before silo-only steps', () => {
    expect(asl.States.CreateTenantAccountNeeded).to.deep.include({
      Type: 'Choice',
      Choices: [
        { Or: [{ Variable: '$.isolation', StringEquals: 'silo-account' }], Next: 'CreateTenantAccount' },
      ],
      Default: 'CreateTenantKeyNeeded',
    });
    expect(asl.States.CreateTenantKeyNeeded).to.deep.include({
      Choices: [
        {
          Or: [
            { Variable: '$.isolation', StringEquals: 'silo' },
            { Variable: '$.isolation', StringEquals: 'silo-account' },
          ],
          Next: 'CreateTenantKey',
        },
      ],
      Default: 'CreateTenantTableNeeded',
    });
    expect(asl.States.CreateTenantTableNeeded.Default).to.equal('CreateTenantGroup');
    expect(asl.States.CreateTenantRecord.Next).to.equal('CreateTenantAccountNeeded');
  });

  it("gives every task the step's retriers and a catch that records the failure", () => {
    const account = asl.States.CreateTenantAccount;
    expect(account.Retry).to.deep.include({
      ErrorEquals: ['AccountCreationInProgress'],
      IntervalSeconds: 10,
      MaxAttempts: 60,
      BackoffRate: 1,
    });
    for (const step of onboardingWorkflow.steps) {
      expect(asl.States[step.name].Catch, step.name).to.deep.equal([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: RECORD_FAILURE_STATE },
      ]);
    }
    expect(asl.States[RECORD_FAILURE_STATE].Next).to.equal('Failed');
    expect(asl.States.ActivateTenant.Next).to.equal('Succeeded');
  });
});
