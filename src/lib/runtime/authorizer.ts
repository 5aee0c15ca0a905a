import { JwtRsaVerifier } from 'aws-jwt-verify';
import { validateCognitoJwtFields } from 'aws-jwt-verify/cognito-verifier';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import type { Jwks } from 'aws-jwt-verify/jwk';

import { SaasctlError } from '../cli/errors.js';
import { tenantGroupName } from '../identity/cognito.js';
import { tenantIdProblem, type Tenant } from '../tenants/model.js';
import type { PolicyPlatform } from './policy.js';
import { requireActiveTenant, type TenantReader } from './tenant-access.js';
import type { TokenVendor, VendedCredentials } from './vending.js';

/**
 * The authorizer: a request's bearer token is verified with aws-jwt-verify (RS256 signature
 * against the pool's JWKS, cached by the verifier; issuer; `token_use` access; client id;
 * expiry), its tenant is looked up (cached briefly) and must be ACTIVE (or MIGRATING: reads go on
 * through a promotion's freeze, writes are refused by the writer), and the request gets that
 * tenant's scoped credentials (cached per tenant, tier and policy). Anything else is refused.
 */

export interface AuthorizerOptions {
  /** The pool's issuer: `https://cognito-idp.<region>.amazonaws.com/<poolId>` on AWS. */
  readonly issuer: string;
  /** Default `<issuer>/.well-known/jwks.json`. */
  readonly jwksUri?: string;
  readonly clientId: string;
  readonly tenants: TenantReader;
  readonly vendor: Pick<TokenVendor, 'vend'>;
  readonly platform: PolicyPlatform;
  /**
   * Also take the tenant from a single `tenant-<id>` group when the token has no `tenantId`
   * claim. For the local stack only: cognito-local applies trigger claims to the ID token, not
   * the access token. Group membership is set by administrators, never by users.
   */
  readonly tenantFromGroup?: boolean;
  /** A JWKS to trust without fetching it (tests, or a cold start with the keys at hand). */
  readonly jwks?: Jwks;
}

export interface AuthorizedRequest {
  readonly tenant: Tenant;
  readonly subject: string;
  readonly credentials: VendedCredentials;
}

export function cognitoIssuer(region: string, userPoolId: string): string {
  return `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`;
}

export class TenantAuthorizer {
  private readonly verifier;

  constructor(private readonly options: AuthorizerOptions) {
    this.verifier = JwtRsaVerifier.create({
      issuer: options.issuer,
      ...(options.jwksUri ? { jwksUri: options.jwksUri } : {}),
      // Access tokens carry client_id, not aud: checked with token_use below.
      audience: null,
      customJwtCheck: ({ payload }) =>
        validateCognitoJwtFields(payload, { tokenUse: 'access', clientId: options.clientId }),
    });
    if (options.jwks) this.verifier.cacheJwks(options.jwks);
  }

  /** The tenant, subject and credentials of a request, from its Authorization header. */
  async authorize(authorization: string | undefined): Promise<AuthorizedRequest> {
    const token = /^Bearer ([A-Za-z0-9_.=-]+)$/.exec(authorization ?? '')?.[1];
    if (!token) throw unauthorized('The request has no bearer token.');
    let payload: JwtPayload;
    try {
      payload = await this.verifier.verify(token);
    } catch (err) {
      throw unauthorized(`The token was refused: ${(err as Error).message}`, err);
    }
    const tenantId = this.tenantOf(payload);
    const record = await this.options.tenants.get(tenantId);
    // A MIGRATING tenant keeps reading through the freeze; its writers answer 503 until cutover.
    const tenant = record?.status === 'MIGRATING' ? record : requireActiveTenant(tenantId, record);
    const credentials = await this.options.vendor.vend(tenant, this.options.platform);
    return { tenant, subject: String(payload.sub ?? ''), credentials };
  }

  private tenantOf(payload: JwtPayload): string {
    let tenantId = typeof payload.tenantId === 'string' ? payload.tenantId : undefined;
    if (!tenantId && this.options.tenantFromGroup) {
      const groups = Array.isArray(payload['cognito:groups']) ? payload['cognito:groups'] : [];
      const tenants = groups
        .filter((g): g is string => typeof g === 'string' && g.startsWith(tenantGroupName('')))
        .map((g) => g.slice(tenantGroupName('').length));
      if (tenants.length === 1) tenantId = tenants[0];
    }
    if (!tenantId || tenantIdProblem(tenantId)) throw unauthorized('The token names no valid tenant.');
    return tenantId;
  }
}

function unauthorized(message: string, cause?: unknown): SaasctlError {
  return new SaasctlError('UNAUTHORIZED', message, { cause, details: { httpStatus: 401 } });
}
