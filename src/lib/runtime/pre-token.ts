import { SaasctlError } from '../cli/errors.js';
import { TENANT_ID_ATTRIBUTE } from '../identity/cognito.js';
import { tenantIdProblem, type TenantStatus } from '../tenants/model.js';
import type { TenantReader } from './tenant-access.js';

/**
 * The Cognito pre-token-generation trigger's logic: the tenant's id, tier and status become
 * claims of the ID and access tokens (V2 event; a V1 event, which customizes the ID token only,
 * is answered in its own shape). The tier and status come from the catalog, not from the user's
 * attributes, which may be older than a promotion. A user whose tenant may not sign in gets no
 * token: the trigger fails and Cognito refuses the authentication.
 */

export interface PreTokenEvent {
  /** "1" for V1_0 (cognito-local sends "0"), "2" or "3" for V2_0 / V3_0. */
  readonly version: string;
  readonly triggerSource: string;
  readonly userPoolId: string;
  readonly userName?: string;
  readonly request: {
    readonly userAttributes: Readonly<Record<string, string>>;
    readonly [member: string]: unknown;
  };
  readonly response?: Record<string, unknown>;
  readonly [member: string]: unknown;
}

export interface TenantClaims {
  readonly tenantId: string;
  readonly tier: string;
  readonly tenantStatus: TenantStatus;
}

export type PreTokenResponse =
  | {
      readonly claimsAndScopeOverrideDetails: {
        readonly idTokenGeneration: { readonly claimsToAddOrOverride: TenantClaims };
        readonly accessTokenGeneration: { readonly claimsToAddOrOverride: TenantClaims };
      };
    }
  | { readonly claimsOverrideDetails: { readonly claimsToAddOrOverride: TenantClaims } };

/** Statuses whose users get tokens: MIGRATING users keep reading while their writes wait. */
export const SIGN_IN_STATUSES: readonly TenantStatus[] = ['ACTIVE', 'MIGRATING'];

export async function preTokenGeneration(
  event: PreTokenEvent,
  tenants: TenantReader,
): Promise<PreTokenEvent & { response: PreTokenResponse }> {
  const tenantId = event.request.userAttributes?.[TENANT_ID_ATTRIBUTE];
  if (!tenantId) {
    throw new SaasctlError(
      'USER_WITHOUT_TENANT',
      `User ${event.userName ?? '(unknown)'} has no ${TENANT_ID_ATTRIBUTE}: no token.`,
    );
  }
  const problem = tenantIdProblem(tenantId);
  if (problem) {
    throw new SaasctlError(
      'INVALID_TENANT_ID',
      `User ${event.userName ?? '(unknown)'} carries an invalid tenant id: ${problem}.`,
    );
  }
  const tenant = await tenants.get(tenantId);
  if (!tenant || !SIGN_IN_STATUSES.includes(tenant.status)) {
    throw new SaasctlError(
      'TENANT_NOT_ACTIVE',
      `Tenant "${tenantId}" is ${tenant?.status ?? 'unknown'}: its users get no token.`,
    );
  }
  const claims: TenantClaims = { tenantId, tier: tenant.tier, tenantStatus: tenant.status };
  const v2 = Number(event.version) >= 2;
  const response: PreTokenResponse = v2
    ? {
        claimsAndScopeOverrideDetails: {
          idTokenGeneration: { claimsToAddOrOverride: claims },
          accessTokenGeneration: { claimsToAddOrOverride: claims },
        },
      }
    : { claimsOverrideDetails: { claimsToAddOrOverride: claims } };
  return { ...event, response };
}
