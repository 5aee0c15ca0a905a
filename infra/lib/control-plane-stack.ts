import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';

import type { PlatformConfig } from '../../src/lib/platform/config.js';
import { CONTROL_PLANE_INDEX } from '../../src/lib/tenants/keys.js';
import { DataTable } from './data-table.js';
import { TenantIdentity } from './identity.js';
import { MeteringPipeline } from './metering.js';
import type { StageSettings } from './settings.js';
import { TenantApi } from './tenant-api.js';
import { TenantWorkflows } from './workflows.js';

export interface ControlPlaneStackProps extends StackProps {
  readonly settings: StageSettings;
  /** The AWS Marketplace product code of legacy buyers (PlatformConfig.marketplace). */
  readonly marketplaceProductCode?: string;
  /** First arrival hour the Glue table projects (`yyyy/MM/dd/HH`). */
  readonly lakeStart?: string;
}

/**
 * The control plane: its tables (tenant catalog, usage counters, Marketplace ledger), identity
 * (user pool, pre-token trigger, app client), the tenant API with token vending and the tenant
 * runtime role, the onboarding and offboarding state machines, the metering pipeline, and the
 * platform parameter `/saasctl/<stage>/platform` that names all of it for the CLI.
 */
export class ControlPlaneStack extends Stack {
  readonly settings: StageSettings;
  readonly platformKey: kms.Key;
  readonly accessLogsBucket: s3.Bucket;
  readonly tenantDataBucket: s3.Bucket;
  readonly controlPlaneTable: DataTable;
  readonly usageTable: DataTable;
  readonly ledgerTable: DataTable;
  readonly identity: TenantIdentity;
  readonly api: TenantApi;
  readonly workflows: TenantWorkflows;
  readonly metering: MeteringPipeline;
  /** The value written to the platform parameter (tokens resolve at deploy time). */
  readonly platformConfig: PlatformConfig;
  readonly platformParameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const { names } = settings;
    this.settings = settings;

    this.platformKey = new kms.Key(this, 'PlatformKey', {
      description: `saasctl ${settings.stage}: platform data (pooled tiers, control plane)`,
      enableKeyRotation: true,
      removalPolicy: settings.removalPolicy,
    });
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: settings.removalPolicy,
      lifecycleRules: [{ id: 'logs-expire', expiration: Duration.days(365) }],
    });
    this.tenantDataBucket = new s3.Bucket(this, 'TenantData', {
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.platformKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'tenant-data/',
      removalPolicy: settings.removalPolicy,
    });

    this.controlPlaneTable = new DataTable(this, 'ControlPlane', {
      tableName: names.controlPlaneTable,
      encryptionKey: this.platformKey,
      settings,
      indexes: [CONTROL_PLANE_INDEX],
    });
    this.usageTable = new DataTable(this, 'UsageCounters', {
      tableName: names.usageTable,
      encryptionKey: this.platformKey,
      settings,
    });
    this.ledgerTable = new DataTable(this, 'MarketplaceLedger', {
      tableName: names.ledgerTable,
      encryptionKey: this.platformKey,
      settings,
    });

    this.identity = new TenantIdentity(this, 'Identity', {
      settings,
      controlPlaneTable: this.controlPlaneTable,
    });
    this.api = new TenantApi(this, 'TenantApi', {
      settings,
      controlPlaneTable: this.controlPlaneTable,
      platformKey: this.platformKey,
      tenantDataBucket: this.tenantDataBucket,
    });
    this.workflows = new TenantWorkflows(this, 'Workflows', {
      settings,
      controlPlaneTable: this.controlPlaneTable,
      userPool: this.identity.userPool,
      platformKey: this.platformKey,
    });
    this.metering = new MeteringPipeline(this, 'Metering', {
      settings,
      usageTable: this.usageTable,
      accessLogsBucket: this.accessLogsBucket,
      lakeStart: props.lakeStart,
    });

    this.platformConfig = {
      schemaVersion: 1,
      stage: settings.stage,
      region: this.region,
      tables: {
        controlPlane: this.controlPlaneTable.table.tableName,
        // The pooled table is the PoolStack's; its name is fixed, so no reference is needed.
        pooled: names.pooledTable,
        usage: this.usageTable.table.tableName,
        ledger: this.ledgerTable.table.tableName,
      },
      rawLakeBucket: this.metering.lakeBucket.bucketName,
      tenantDataBucket: this.tenantDataBucket.bucketName,
      usageStream: this.metering.stream.streamName,
      userPool: {
        id: this.identity.userPool.userPoolId,
        clientId: this.identity.appClient.userPoolClientId,
      },
      stateMachines: {
        onboarding: this.workflows.onboarding.stateMachine.stateMachineArn,
        offboarding: this.workflows.offboarding.stateMachine.stateMachineArn,
      },
      accountId: this.account,
      tenantRuntimeRoleArn: this.api.runtimeRole.roleArn,
      athena: {
        workgroup: this.metering.workgroup.name,
        database: this.metering.names.database,
        table: this.metering.names.table,
      },
      ...(props.marketplaceProductCode ? { marketplace: { productCode: props.marketplaceProductCode } } : {}),
    };
    this.platformParameter = new ssm.StringParameter(this, 'PlatformParameter', {
      parameterName: settings.platformParameter,
      description: `saasctl ${settings.stage}: every resource name the CLI needs (PlatformConfig, JSON)`,
      stringValue: this.toJsonString(this.platformConfig),
      tier: ssm.ParameterTier.STANDARD,
    });

    new CfnOutput(this, 'TenantApiUrl', { value: this.api.httpApi.apiEndpoint });
    new CfnOutput(this, 'PlatformParameterName', { value: settings.platformParameter });
  }
}
