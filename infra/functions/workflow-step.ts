import { catalogs, onboardDependencies, tenantClients } from '../../src/lib/tenants/context.js';
import { handleStep, type StepEvent } from '../../src/lib/workflow/lambda.js';
import type { StepOutcome } from '../../src/lib/workflow/definition.js';
import { offboardingWorkflow } from '../../src/lib/workflow/offboarding.js';
import { onboardingWorkflow } from '../../src/lib/workflow/onboarding.js';
import { lambdaPlatform, requiredEnv } from './platform.js';

/**
 * One step of the onboarding or offboarding state machine (SAASCTL_WORKFLOW, SAASCTL_STEP):
 * the state machine renders from the same definitions (renderAsl), and handleStep runs the
 * named step exactly as the local runner does, recording progress on the tenant.
 */
const workflow = requiredEnv('SAASCTL_WORKFLOW');
const step = requiredEnv('SAASCTL_STEP');

export async function handler(event: StepEvent): Promise<StepOutcome> {
  const platform = await lambdaPlatform();
  const { catalog } = catalogs(platform);
  const sink = { record: catalog.recordWorkflow.bind(catalog) };
  if (workflow === 'onboarding') {
    const deps = onboardDependencies(platform);
    return handleStep(onboardingWorkflow, step, event, { ...deps, actor: await platform.actor() }, sink);
  }
  if (workflow === 'offboarding') {
    const { config, clients } = platform;
    const accountId = (await catalog.get(event.tenantId))?.accountId;
    return handleStep(
      offboardingWorkflow,
      step,
      event,
      {
        catalog,
        documents: clients.documents(),
        pooledTable: config.tables.pooled,
        cognito: () => clients.cognito(),
        userPoolId: config.userPool.id,
        actor: await platform.actor(),
        kms: (region) => tenantClients(platform, region, accountId).kms(),
        dynamodb: (region) => tenantClients(platform, region, accountId).dynamodb(),
      },
      sink,
    );
  }
  throw new Error(`Unknown workflow ${workflow}`);
}
