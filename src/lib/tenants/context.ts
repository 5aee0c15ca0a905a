import { LOCAL_MARKETPLACE_PRODUCT_CODE } from '../platform/config.js';
import type { Platform } from '../platform/platform.js';
import { TenantCatalog } from './catalog.js';
import { emulatedSubscription, type SubscriptionRegistrar } from './subscription.js';
import { tenantKeyPolicy } from '../keys/key-policy.js';
import type { AwsClientFactory } from '../platform/clients.js';
import type { RunOptions } from '../workflow/runner.js';
import type { Reporter } from '../cli/reporter.js';
import type { Tenant } from './model.js';
import type { OnboardDependencies } from './onboarding.js';
import { TierCatalog } from './tiers.js';

/** The catalogs of a platform, built from its clients and resource names. */
export function catalogs(platform: Platform): { catalog: TenantCatalog; tiers: TierCatalog } {
  const db = platform.clients.documents();
  const table = platform.config.tables.controlPlane;
  return { catalog: new TenantCatalog(db, table), tiers: new TierCatalog(db, table) };
}

/**
 * Clients where a tenant's silo resources live: its region and, for a tenant with its own
 * account, that account (on aws through OrganizationAccountAccessRole; the local stack has
 * one account, so there the account is only recorded).
 */
export function tenantClients(platform: Platform, region: string, accountId?: string): AwsClientFactory {
  const regional = platform.clients.forRegion(region);
  return accountId && platform.target.name === 'aws' ? regional.inAccount(accountId) : regional;
}

/**
 * On the local target, what registers a tenant's Marketplace subscription with the emulator (as
 * AWS learns of it when the buyer subscribes); undefined elsewhere, and when the command did not
 * start the emulator.
 */
export function subscriptionRegistrar(platform: Platform): SubscriptionRegistrar | undefined {
  const endpoint =
    platform.target.name === 'local' ? platform.clients.options.endpoints?.marketplace : undefined;
  if (!endpoint) return undefined;
  const productCode = platform.config.marketplace?.productCode ?? LOCAL_MARKETPLACE_PRODUCT_CODE;
  return async (subscription) => {
    const { marketplaceControl } = await import('../local/emulators/marketplace-control.js');
    await marketplaceControl(endpoint).registerSubscription(emulatedSubscription(subscription, productCode));
  };
}

export function onboardDependencies(
  platform: Platform,
  runOptions?: RunOptions,
  wait = true,
  deploySilo = true,
): OnboardDependencies {
  const { catalog, tiers } = catalogs(platform);
  const { config, clients } = platform;
  return {
    catalog,
    tiers,
    stage: config.stage,
    sink: { record: (tenantId, progress) => catalog.recordWorkflow(tenantId, progress) },
    cognito: () => clients.cognito(),
    kms: (region, accountId) => tenantClients(platform, region, accountId).kms(),
    dynamodb: (region, accountId) => tenantClients(platform, region, accountId).dynamodb(),
    organizations: () => clients.organizations(),
    keyPolicy: (tenantId, region, accountId) =>
      tenantKeyPolicy({
        accountId: accountId ?? config.accountId,
        region,
        tenantId,
        runtimeRoleArn: config.tenantRuntimeRoleArn,
      }),
    userPoolId: config.userPool.id,
    actor: () => platform.actor(),
    // The local stack has no mail: the admin's password is set with `saasctl user` commands.
    suppressInvitation: platform.target.name === 'local',
    registerSubscription: subscriptionRegistrar(platform),
    // The local emulators answer at once: retry intervals (an account being created) shrink.
    runOptions: { timeScale: platform.target.name === 'local' ? 0.01 : 1, ...runOptions },
    // On aws, a tier with dedicated compute gets its silo stack (the local stack has no compute).
    ...(platform.target.name === 'aws' && deploySilo
      ? {
          deploySilo: async (tenant: Tenant, reporter: Reporter) => {
            const infra = await import('../infra/deploy-silo.js');
            return infra.deploySilo({ tenant, config }, reporter);
          },
        }
      : {}),
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
