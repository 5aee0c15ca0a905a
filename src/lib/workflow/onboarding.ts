import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { OrganizationsClient } from '@aws-sdk/client-organizations';

import { conflict } from '../cli/errors.js';
import { ensureAdminUser, ensureTenantGroup, tenantGroupName } from '../identity/cognito.js';
import { ensureTenantKey, tenantKeyAlias } from '../keys/tenant-key.js';
import { ensureTenantAccount } from '../tenants/account.js';
import type { TenantCatalog } from '../tenants/catalog.js';
import type { Tenant } from '../tenants/model.js';
import { ensureTenantTable, tenantTableName } from '../tenants/silo-table.js';
import { DEFAULT_RETRY, type TenantWorkflowInput, type WorkflowDefinition } from './definition.js';

/** What the onboarding steps act with; the CLI, the local stack and the Lambdas each build it. */
export interface OnboardingServices {
  readonly catalog: TenantCatalog;
  readonly cognito: () => CognitoIdentityProviderClient;
  readonly userPoolId: string;
  readonly actor: string;
  readonly suppressInvitation: boolean;
  /**
   * Clients in the tenant's region, where its silo resources live, and in its own account
   * when it has one (enterprise-account).
   */
  readonly kms: (region: string, accountId?: string) => KMSClient;
  readonly dynamodb: (region: string, accountId?: string) => DynamoDBClient;
  readonly organizations: () => OrganizationsClient;
  /** The key policy of a tenant key: the account's root and the tenant runtime role. */
  readonly keyPolicy: (tenantId: string, region: string, accountId?: string) => string;
}

const SILO = ['silo', 'silo-account'] as const;

/** Statuses from which re-running onboard may carry on. */
const RESUMABLE = new Set(['PROVISIONING', 'ACTIVE']);

export const onboardingWorkflow: WorkflowDefinition<OnboardingServices> = {
  name: 'onboarding',
  comment: 'saasctl tenant onboarding: record, (silo) account, key and table, identity, then ACTIVE',
  steps: [
    {
      name: 'CreateTenantRecord',
      title: (input) => `tenant record ${input.tenantId}`,
      retry: DEFAULT_RETRY,
      async run(input, services) {
        const { tenant, created } = await services.catalog.create(
          {
            tenantId: input.tenantId,
            name: input.name,
            tier: input.tier,
            isolation: input.isolation,
            region: input.region,
            adminEmail: input.adminEmail,
            ...(input.planPrice === undefined ? {} : { planPrice: input.planPrice }),
            ...(input.marketplaceAccountId === undefined
              ? {}
              : { marketplaceAccountId: input.marketplaceAccountId }),
            ...(input.licenseArn === undefined ? {} : { licenseArn: input.licenseArn }),
            ...(input.marketplaceCustomer === undefined
              ? {}
              : { marketplaceCustomer: input.marketplaceCustomer }),
          },
          { actor: services.actor, reason: 'onboard' },
        );
        if (!created) assertResumable(tenant, input);
        return { changed: created, detail: created ? 'PROVISIONING' : `exists, ${tenant.status}` };
      },
    },
    {
      name: 'CreateTenantAccount',
      title: (input) => `AWS account for ${input.tenantId}`,
      appliesTo: ['silo-account'],
      // Organizations creates accounts asynchronously: the step is retried until it is done.
      retry: [
        { errors: ['AccountCreationInProgress'], intervalSeconds: 10, maxAttempts: 60, backoffRate: 1 },
        ...DEFAULT_RETRY,
      ],
      async run(input, services) {
        const { accountId, created } = await ensureTenantAccount(services.organizations(), services.catalog, {
          stage: input.stage,
          tenantId: input.tenantId,
          email: input.adminEmail,
          actor: services.actor,
        });
        return { changed: created, detail: accountId };
      },
    },
    {
      name: 'CreateTenantKey',
      title: (input) => `KMS key ${tenantKeyAlias(input.stage, input.tenantId)}`,
      appliesTo: SILO,
      retry: DEFAULT_RETRY,
      async run(input, services) {
        const { accountId } = await services.catalog.require(input.tenantId);
        const { keyArn, created } = await ensureTenantKey(services.kms(input.region, accountId), {
          stage: input.stage,
          tenantId: input.tenantId,
          tier: input.tier,
          policy: services.keyPolicy(input.tenantId, input.region, accountId),
        });
        const attached = await services.catalog.update(
          input.tenantId,
          { keyArn },
          { actor: services.actor, action: 'attach-key' },
        );
        return { changed: created || attached.changed, detail: keyArn };
      },
    },
    {
      name: 'CreateTenantTable',
      title: (input) => `table ${tenantTableName(input.stage, input.tenantId)}`,
      appliesTo: SILO,
      // DynamoDB may refuse PITR for a moment after it creates a table.
      retry: [
        {
          errors: ['ContinuousBackupsUnavailableException'],
          intervalSeconds: 5,
          maxAttempts: 10,
          backoffRate: 1.5,
        },
        ...DEFAULT_RETRY,
      ],
      async run(input, services) {
        const tenant = await services.catalog.require(input.tenantId);
        if (!tenant.keyArn)
          throw conflict('TENANT_KEY_MISSING', `Tenant "${input.tenantId}" has no key yet.`);
        const table = await ensureTenantTable(services.dynamodb(input.region, tenant.accountId), {
          stage: input.stage,
          tenantId: input.tenantId,
          keyArn: tenant.keyArn,
        });
        const attached = await services.catalog.update(
          input.tenantId,
          { dataTable: table.tableName },
          { actor: services.actor, action: 'attach-table' },
        );
        return {
          changed: table.created || attached.changed,
          detail: table.pointInTimeRecovery ? 'PITR on' : 'PITR unsupported by the local emulator',
        };
      },
    },
    {
      name: 'CreateTenantGroup',
      title: (input) => `Cognito group ${tenantGroupName(input.tenantId)}`,
      retry: DEFAULT_RETRY,
      async run(input, services) {
        return { changed: await ensureTenantGroup(services.cognito(), services.userPoolId, input.tenantId) };
      },
    },
    {
      name: 'CreateAdminUser',
      title: (input) => `admin user ${input.adminEmail}`,
      retry: DEFAULT_RETRY,
      async run(input, services) {
        const user = await ensureAdminUser(services.cognito(), {
          userPoolId: services.userPoolId,
          tenantId: input.tenantId,
          tier: input.tier,
          email: input.adminEmail,
          suppressInvitation: services.suppressInvitation,
        });
        return { changed: user.created };
      },
    },
    {
      name: 'ActivateTenant',
      title: () => 'activate',
      retry: DEFAULT_RETRY,
      async run(input, services) {
        const { changed } = await services.catalog.transition(input.tenantId, 'ACTIVE', {
          actor: services.actor,
          action: 'activate',
          reason: 'onboarding complete',
        });
        return { changed, detail: changed ? 'ACTIVE' : 'already ACTIVE' };
      },
    },
  ],
};

/**
 * Re-running onboard is idempotent only for the same request, and only while the tenant is
 * PROVISIONING or ACTIVE; anything else is a conflict.
 */
function assertResumable(existing: Tenant, request: TenantWorkflowInput): void {
  assertSameRequest(existing, request);
  if (RESUMABLE.has(existing.status)) return;
  throw conflict(
    'TENANT_NOT_ONBOARDABLE',
    `Tenant "${request.tenantId}" exists and is ${existing.status}; onboarding cannot resume from there.`,
    existing.status === 'SUSPENDED' ? ['Resume it with `saasctl tenant resume`.'] : [],
  );
}

function assertSameRequest(existing: Tenant, request: TenantWorkflowInput): void {
  const differences: string[] = [];
  if (existing.tier !== request.tier) differences.push(`tier is ${existing.tier}, not ${request.tier}`);
  if (existing.name !== request.name) differences.push(`name is "${existing.name}", not "${request.name}"`);
  if (existing.adminEmail !== request.adminEmail) {
    differences.push(`admin email is ${existing.adminEmail}, not ${request.adminEmail}`);
  }
  if (existing.region !== request.region)
    differences.push(`region is ${existing.region}, not ${request.region}`);
  if (request.planPrice !== undefined && existing.planPrice !== request.planPrice) {
    differences.push(`plan price is ${existing.planPrice ?? 'the tier price'}, not ${request.planPrice}`);
  }
  for (const field of ['marketplaceAccountId', 'licenseArn', 'marketplaceCustomer'] as const) {
    const wanted = request[field];
    if (wanted !== undefined && existing[field] !== wanted) {
      differences.push(`${field} is ${existing[field] ?? 'not set'}, not ${wanted}`);
    }
  }
  if (differences.length === 0) return;
  throw conflict(
    'TENANT_EXISTS',
    `Tenant "${request.tenantId}" already exists and differs: its ${differences.join('; its ')}.`,
    [
      'Re-run onboard with the same values to resume it,',
      'or change it with `saasctl tenant update` (name, plan price); a tier change is a promotion.',
    ],
    { differences },
  );
}
