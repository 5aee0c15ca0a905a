import type { OrganizationsClient } from '@aws-sdk/client-organizations';

import { SaasctlError } from '../cli/errors.js';
import { sdk } from '../platform/sdk.js';
import type { TenantCatalog } from './catalog.js';

/** Thrown while Organizations is still creating the account: the step's retry policy polls. */
export class AccountCreationInProgress extends Error {
  override readonly name = 'AccountCreationInProgress';
}

export interface TenantAccountRequest {
  readonly stage: string;
  readonly tenantId: string;
  readonly email: string;
  readonly actor: string;
}

/**
 * The tenant's own AWS account (enterprise-account tier). The CreateAccount request id is
 * stored on the tenant before polling, so a crash or a retry polls the same request instead
 * of creating a second account; an account already holding the email is adopted.
 */
export async function ensureTenantAccount(
  org: OrganizationsClient,
  catalog: TenantCatalog,
  request: TenantAccountRequest,
): Promise<{ accountId: string; created: boolean }> {
  const orgSdk = sdk.organizations();
  const tenant = await catalog.require(request.tenantId);
  if (tenant.accountId) return { accountId: tenant.accountId, created: false };
  const change = { actor: request.actor, action: 'attach-account' };
  let requestId = tenant.accountRequestId;
  if (!requestId) {
    const existing = await findAccountByEmail(org, request.email);
    if (existing) {
      await catalog.update(request.tenantId, { accountId: existing }, change);
      return { accountId: existing, created: false };
    }
    const { CreateAccountStatus } = await org.send(
      new orgSdk.CreateAccountCommand({
        Email: request.email,
        AccountName: `saasctl-${request.stage}-${request.tenantId}`,
        Tags: [
          { Key: 'tenantId', Value: request.tenantId },
          { Key: 'saasctl:stage', Value: request.stage },
        ],
      }),
    );
    requestId = CreateAccountStatus?.Id;
    if (!requestId)
      throw new SaasctlError('ACCOUNT_REQUEST_MISSING', 'Organizations returned no request id.');
    await catalog.update(
      request.tenantId,
      { accountRequestId: requestId },
      { ...change, action: 'request-account' },
    );
  }
  const { CreateAccountStatus: status } = await org.send(
    new orgSdk.DescribeCreateAccountStatusCommand({ CreateAccountRequestId: requestId }),
  );
  if (status?.State === 'SUCCEEDED' && status.AccountId) {
    await catalog.update(request.tenantId, { accountId: status.AccountId }, change);
    return { accountId: status.AccountId, created: true };
  }
  if (status?.State === 'FAILED') {
    const adopted =
      status.FailureReason === 'EMAIL_ALREADY_EXISTS' && (await findAccountByEmail(org, request.email));
    if (adopted) {
      await catalog.update(request.tenantId, { accountId: adopted }, change);
      return { accountId: adopted, created: false };
    }
    throw new SaasctlError(
      'ACCOUNT_CREATION_FAILED',
      `Organizations could not create the account of tenant "${request.tenantId}": ${status.FailureReason ?? 'no reason given'} (request ${requestId}).`,
      {
        exitCode: 4,
        actions: [
          'Fix the cause (an account limit, a refused email), then offboard this tenant and onboard it again:',
          'the failed request stays on the record so that a retry never creates a second account.',
        ],
      },
    );
  }
  throw new AccountCreationInProgress(`Account creation ${requestId} is ${status?.State ?? 'unknown'}.`);
}

async function findAccountByEmail(org: OrganizationsClient, email: string): Promise<string | undefined> {
  const orgSdk = sdk.organizations();
  let NextToken: string | undefined;
  do {
    const page = await org.send(new orgSdk.ListAccountsCommand({ NextToken }));
    const match = page.Accounts?.find((a) => a.Email?.toLowerCase() === email.toLowerCase());
    if (match?.Id) return match.Id;
    NextToken = page.NextToken;
  } while (NextToken);
  return undefined;
}
