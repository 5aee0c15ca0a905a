import { cognitoIssuer, TenantAuthorizer } from '../../src/lib/runtime/authorizer.js';
import { CachedTenantReader } from '../../src/lib/runtime/tenant-access.js';
import { TokenVendor } from '../../src/lib/runtime/vending.js';
import { catalogs } from '../../src/lib/tenants/context.js';
import { lambdaPlatform } from './platform.js';

/** The HTTP API's Lambda authorizer event (payload format 2.0), the fields used. */
interface AuthorizerEvent {
  readonly headers?: Readonly<Record<string, string | undefined>>;
}

/** A simple response: the integration finds `context` under requestContext.authorizer.lambda. */
interface SimpleResponse {
  readonly isAuthorized: boolean;
  readonly context?: Readonly<Record<string, string>>;
}

/**
 * Token vending behind the HTTP API: verifies the access token, requires an ACTIVE tenant and
 * hands the integration that tenant's scoped credentials (STS AssumeRole on the tenant runtime
 * role with the tenant session policy and a tenantId session tag). SAASCTL_SILO_TENANT, set in
 * a silo's own API, refuses every other tenant.
 */
let authorizer: TenantAuthorizer | undefined;

export async function handler(event: AuthorizerEvent): Promise<SimpleResponse> {
  if (!authorizer) {
    const platform = await lambdaPlatform();
    const { config, clients } = platform;
    authorizer = new TenantAuthorizer({
      issuer: cognitoIssuer(config.region, config.userPool.id),
      clientId: config.userPool.clientId,
      tenants: new CachedTenantReader(catalogs(platform).catalog),
      vendor: new TokenVendor({ sts: () => clients.sts(), roleArn: config.tenantRuntimeRoleArn }),
      platform: config,
    });
  }
  try {
    const { tenant, subject, credentials } = await authorizer.authorize(
      event.headers?.authorization ?? event.headers?.Authorization,
    );
    const silo = process.env.SAASCTL_SILO_TENANT;
    if (silo && tenant.tenantId !== silo) return { isAuthorized: false };
    return {
      isAuthorized: true,
      context: {
        tenantId: tenant.tenantId,
        tier: tenant.tier,
        subject,
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
        expiration: credentials.expiration,
      },
    };
  } catch (err) {
    // A refused token is a 403, not an error: anything else (STS, DynamoDB) is thrown (a 500).
    if ((err as { code?: unknown }).code === 'UNAUTHORIZED') return { isAuthorized: false };
    if ((err as { code?: unknown }).code === 'TENANT_NOT_ACTIVE') return { isAuthorized: false };
    throw err;
  }
}
