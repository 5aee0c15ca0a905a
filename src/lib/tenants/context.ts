import type { Platform } from '../platform/platform.js';
import { TenantCatalog } from './catalog.js';
import type { OnboardDependencies } from './onboarding.js';
import { TierCatalog } from './tiers.js';

/** The catalogs of a platform, built from its clients and resource names. */
export function catalogs(platform: Platform): { catalog: TenantCatalog; tiers: TierCatalog } {
  const db = platform.clients.documents();
  const table = platform.config.tables.controlPlane;
  return { catalog: new TenantCatalog(db, table), tiers: new TierCatalog(db, table) };
}

export function onboardDependencies(platform: Platform): OnboardDependencies {
  return {
    ...catalogs(platform),
    cognito: () => platform.clients.cognito(),
    userPoolId: platform.config.userPool.id,
    actor: () => platform.actor(),
    // The local stack has no mail: the admin's password is set with `saasctl user` commands.
    suppressInvitation: platform.target.name === 'local',
  };
}
