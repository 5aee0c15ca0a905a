import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { deleteTenantIdentity, tenantGroupName } from '../identity/cognito.js';
import { scheduleTenantKeyDeletion, tenantKeyAlias } from '../keys/tenant-key.js';
import type { TenantCatalog } from '../tenants/catalog.js';
import { deletePooledItems } from '../tenants/pooled-data.js';
import { deleteTenantTable, tenantTableName } from '../tenants/silo-table.js';
import { DEFAULT_RETRY, type WorkflowDefinition } from './definition.js';

export interface OffboardingServices {
  readonly catalog: TenantCatalog;
  readonly documents: DynamoDBDocumentClient;
  readonly pooledTable: string;
  readonly cognito: () => CognitoIdentityProviderClient;
  readonly userPoolId: string;
  readonly actor: string;
  readonly kms: (region: string) => KMSClient;
  readonly dynamodb: (region: string) => DynamoDBClient;
}

const SILO = ['silo', 'silo-account'] as const;

export const DEFAULT_KEY_DELETION_DAYS = 30;

/**
 * Offboarding: OFFBOARDING -> the tenant's pooled items and silo table deleted -> its key
 * scheduled for deletion -> its users and group deleted -> DELETED. The tenant record stays,
 * a tombstone with its audit trail; the raw usage lake is kept (the billing system of record).
 */
export const offboardingWorkflow: WorkflowDefinition<OffboardingServices> = {
  name: 'offboarding',
  comment: 'saasctl tenant offboarding: data, key, identity, then DELETED (the record stays as a tombstone)',
  steps: [
    {
      name: 'MarkOffboarding',
      title: () => 'mark OFFBOARDING',
      retry: DEFAULT_RETRY,
      async run(input, services) {
        const { changed } = await services.catalog.transition(input.tenantId, 'OFFBOARDING', {
          actor: services.actor,
          action: 'offboard',
          reason: input.reason,
        });
        return { changed, detail: changed ? 'OFFBOARDING' : 'already OFFBOARDING' };
      },
    },
    {
      name: 'DeletePooledItems',
      title: (input) => `pooled items of ${input.tenantId}`,
      retry: DEFAULT_RETRY,
      async run(input, services) {
        const { deleted } = await deletePooledItems(services.documents, services.pooledTable, input.tenantId);
        return { changed: deleted > 0, detail: `${deleted} deleted` };
      },
    },
    {
      name: 'DeleteTenantTable',
      title: (input) => `table ${tenantTableName(input.stage, input.tenantId)}`,
      appliesTo: SILO,
      retry: DEFAULT_RETRY,
      async run(input, services) {
        const deleted = await deleteTenantTable(services.dynamodb(input.region), input.stage, input.tenantId);
        return { changed: deleted, detail: deleted ? 'deleted' : 'already gone' };
      },
    },
    {
      name: 'ScheduleKeyDeletion',
      title: (input) => `KMS key ${tenantKeyAlias(input.stage, input.tenantId)}`,
      appliesTo: SILO,
      retry: DEFAULT_RETRY,
      async run(input, services) {
        const result = await scheduleTenantKeyDeletion(
          services.kms(input.region),
          input.stage,
          input.tenantId,
          input.keyDeletionDays ?? DEFAULT_KEY_DELETION_DAYS,
        );
        return {
          changed: result.changed,
          detail: result.deletionDate ? `deletion on ${result.deletionDate}` : 'no key',
        };
      },
    },
    {
      name: 'DeleteTenantIdentity',
      title: (input) => `Cognito users and group ${tenantGroupName(input.tenantId)}`,
      retry: DEFAULT_RETRY,
      async run(input, services) {
        const { usersDeleted, groupDeleted } = await deleteTenantIdentity(
          services.cognito(),
          services.userPoolId,
          input.tenantId,
        );
        return { changed: usersDeleted > 0 || groupDeleted, detail: `${usersDeleted} users` };
      },
    },
    {
      name: 'MarkDeleted',
      title: () => 'mark DELETED',
      retry: DEFAULT_RETRY,
      async run(input, services) {
        const { changed } = await services.catalog.transition(input.tenantId, 'DELETED', {
          actor: services.actor,
          action: 'delete',
          reason: input.reason,
        });
        return { changed, detail: 'DELETED (the record stays, with its audit trail)' };
      },
    },
  ],
};
