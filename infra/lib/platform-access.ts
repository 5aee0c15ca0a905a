import { Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

import type { StageSettings } from './settings.js';

/**
 * The environment and grant every saasctl function needs to read the platform parameter: by
 * name, never by reference, so that functions the parameter names (state machine steps) do not
 * depend on it in a cycle.
 */
export function platformEnvironment(
  settings: StageSettings,
  platformRegion: string = Aws.REGION,
): Record<string, string> {
  return { SAASCTL_STAGE: settings.stage, SAASCTL_PLATFORM_REGION: platformRegion };
}

export function platformParameterArn(scope: Construct, settings: StageSettings, region?: string): string {
  return Stack.of(scope).formatArn({
    service: 'ssm',
    resource: 'parameter',
    resourceName: settings.platformParameter.slice(1),
    ...(region ? { region } : {}),
  });
}

export function grantPlatformRead(
  grantee: Construct & iam.IGrantable,
  settings: StageSettings,
  region?: string,
): void {
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['ssm:GetParameter'],
    resourceArns: [platformParameterArn(grantee, settings, region)],
  });
}

/**
 * What the tenant data writer (src/lib/tenants/tenant-data.ts) reads and writes in the control
 * plane with a function's own role: the tenant's record (status, placement, a running migration,
 * read consistently before each write) and a running migration's journal entries. Nothing else:
 * LeadingKeys bound both, with a Null guard (ForAllValues holds for a request naming no key).
 * The platform key, which encrypts the table, is granted when the stack knows it.
 */
export function grantTenantDataWriter(
  grantee: Construct & iam.IGrantable,
  settings: StageSettings,
  options: { readonly platformRegion?: string; readonly platformKeyArn?: string } = {},
): void {
  const table = Stack.of(grantee).formatArn({
    service: 'dynamodb',
    resource: 'table',
    resourceName: settings.names.controlPlaneTable,
    ...(options.platformRegion ? { region: options.platformRegion } : {}),
  });
  const leading = (prefix: string) => ({
    'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [prefix] },
    Null: { 'dynamodb:LeadingKeys': 'false' },
  });
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['dynamodb:GetItem'],
      resources: [table],
      conditions: leading('TENANT#*'),
    }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['dynamodb:BatchWriteItem'],
      resources: [table],
      conditions: leading('MIGRATION#*'),
    }),
  );
  if (options.platformKeyArn) {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [options.platformKeyArn],
      }),
    );
  }
}
