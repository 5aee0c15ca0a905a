import type { Platform } from '../platform/platform.js';
import { TenantCatalog } from './catalog.js';
import { tenantKeyPolicy } from '../keys/key-policy.js';
import type { RunOptions } from '../workflow/runner.js';
import type { OnboardDependencies } from './onboarding.js';
import { TierCatalog } from './tiers.js';

/** The catalogs of a platform, built from its clients and resource names. */
export function catalogs(platform: Platform): { catalog: TenantCatalog; tiers: TierCatalog } {
  const db = platform.clients.documents();
  const table = platform.config.tables.controlPlane;
  return { catalog: new TenantCatalog(db, table), tiers: new TierCatalog(db, table) };
}

export function onboardDependencies(
  platform: Platform,
  runOptions?: RunOptions,
  wait = true,
): OnboardDependencies {
  const { catalog, tiers } = catalogs(platform);
  const { config, clients } = platform;
  return {
    catalog,
    tiers,
    stage: config.stage,
    sink: { record: (tenantId, progress) => catalog.recordWorkflow(tenantId, progress) },
    cognito: () => clients.cognito(),
    kms: (region) => clients.forRegion(region).kms(),
    dynamodb: (region) => clients.forRegion(region).dynamodb(),
    organizations: () => clients.organizations(),
    keyPolicy: (tenantId, region) =>
      tenantKeyPolicy({
        accountId: config.accountId,
        region,
        tenantId,
        runtimeRoleArn: config.tenantRuntimeRoleArn,
      }),
    userPoolId: config.userPool.id,
    actor: () => platform.actor(),
    // The local stack has no mail: the admin's password is set with `saasctl user` commands.
    suppressInvitation: platform.target.name === 'local',
    // The local emulators answer at once: retry intervals (an account being created) shrink.
    runOptions: { timeScale: platform.target.name === 'local' ? 0.01 : 1, ...runOptions },
    // On aws with a deployed state machine, onboarding runs there; elsewhere, in-process.
    ...(platform.target.name === 'aws' && config.stateMachines?.onboarding
      ? {
          stepFunctions: {
            client: () => clients.sfn(),
            stateMachineArn: config.stateMachines.onboarding,
            wait,
          },
        }
      : {}),
  };
}
