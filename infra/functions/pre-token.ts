import { CachedTenantReader } from '../../src/lib/runtime/tenant-access.js';
import { preTokenGeneration, type PreTokenEvent } from '../../src/lib/runtime/pre-token.js';
import { catalogs } from '../../src/lib/tenants/context.js';
import { lambdaPlatform } from './platform.js';

/**
 * Cognito's pre-token-generation trigger (V2_0): the tenant's id, tier and status as claims of
 * the ID and access tokens; a user whose tenant may not sign in gets no token (the error fails
 * the authentication). Tenants are read from the control-plane table, cached briefly.
 */
let tenants: CachedTenantReader | undefined;

export async function handler(event: PreTokenEvent): Promise<unknown> {
  if (!tenants) tenants = new CachedTenantReader(catalogs(await lambdaPlatform()).catalog);
  return preTokenGeneration(event, tenants);
}
