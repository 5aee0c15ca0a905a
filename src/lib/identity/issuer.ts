import { get } from 'node:http';

import { assertIsJwks, type Jwks } from 'aws-jwt-verify/jwk';

import { SaasctlError } from '../cli/errors.js';
import type { PlatformConfig } from '../platform/config.js';
import type { Platform } from '../platform/platform.js';
import { cognitoIssuer } from '../runtime/authorizer.js';

/**
 * Who signs the user pool's tokens and where its keys are: what `TenantAuthorizer` needs to
 * verify them. On AWS the issuer is Cognito's regional URL; on the local stack it is
 * cognito-local's own address (the child sets its PORT before loading, so `iss` is real), and
 * the JWKS is served under it.
 */
export interface TokenIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
}

/** The local stack's issuer: `<cognito endpoint>/<poolId>`, keys at `.well-known/jwks.json` under it. */
export function localTokenIssuer(cognitoEndpoint: string, userPoolId: string): TokenIssuer {
  const issuer = `${cognitoEndpoint.replace(/\/+$/, '')}/${userPoolId}`;
  return { issuer, jwksUri: `${issuer}/.well-known/jwks.json` };
}

/** What `TenantAuthorizer` needs on the local stack, besides its tenants, vendor and platform. */
export interface LocalAuthorizerConfig extends TokenIssuer {
  readonly clientId: string;
  /** cognito-local puts the trigger's claims in the ID token only: the access token's tenant is its group. */
  readonly tenantFromGroup: true;
  /**
   * cognito-local's keys, fetched here: aws-jwt-verify fetches a JWKS over https only (its Node
   * fetcher refuses `http:`), and cognito-local serves plain http. Its key never changes.
   */
  readonly jwks: Jwks;
}

/**
 * The authorizer settings for the local stack, from the stack's info (`StackInfo`, or anything
 * with its `endpoints` and `platform`): issuer, JWKS (fetched now), the app client, and
 * `tenantFromGroup`. Spread it into `new TenantAuthorizer({...config, tenants, vendor, platform})`.
 */
export async function localAuthorizerConfig(info: {
  readonly endpoints: { readonly cognito?: string };
  readonly platform: Pick<PlatformConfig, 'userPool'>;
}): Promise<LocalAuthorizerConfig> {
  if (!info.endpoints.cognito) {
    throw new SaasctlError('COGNITO_NOT_STARTED', 'The local stack has no Cognito running.', {
      actions: ["List 'cognito' in the command's localServices (the stack starts it on demand)."],
    });
  }
  const names = localTokenIssuer(info.endpoints.cognito, info.platform.userPool.id);
  return {
    ...names,
    clientId: info.platform.userPool.clientId,
    tenantFromGroup: true,
    jwks: await fetchLocalJwks(names.jwksUri),
  };
}

function fetchLocalJwks(jwksUri: string): Promise<Jwks> {
  return new Promise((resolve, reject) => {
    const req = get(jwksUri, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
          const jwks = JSON.parse(text) as Parameters<typeof assertIsJwks>[0];
          assertIsJwks(jwks);
          resolve(jwks);
        } catch (err) {
          reject(
            new SaasctlError(
              'LOCAL_JWKS_UNAVAILABLE',
              `cognito-local's JWKS at ${jwksUri} is unusable: ${(err as Error).message}`,
              {
                cause: err,
              },
            ),
          );
        }
      });
    });
    req.on('error', reject);
  });
}

/** The issuer of an opened platform, either target (local: the command must have started cognito). */
export function platformTokenIssuer(platform: Pick<Platform, 'target' | 'config' | 'clients'>): TokenIssuer {
  if (platform.target.name === 'local') {
    const endpoint = platform.clients.options.endpoints?.cognito;
    if (!endpoint) {
      throw new SaasctlError('COGNITO_NOT_STARTED', 'This command did not start the local Cognito.', {
        actions: ["List 'cognito' in the command's localServices."],
      });
    }
    return localTokenIssuer(endpoint, platform.config.userPool.id);
  }
  const issuer = cognitoIssuer(platform.config.region, platform.config.userPool.id);
  return { issuer, jwksUri: `${issuer}/.well-known/jwks.json` };
}
