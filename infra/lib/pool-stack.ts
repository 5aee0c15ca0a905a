import { CustomResource, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';

import { APP_ROLE, MIGRATIONS } from '../../src/lib/runtime/postgres/migrations.js';
import { DataTable } from './data-table.js';
import { acknowledge, nagArn } from './nag.js';
import { grantPlatformRead, grantTenantDataWriter, platformEnvironment } from './platform-access.js';
import { SaasFunction } from './saas-function.js';
import type { StageSettings } from './settings.js';

export interface PoolStackProps extends StackProps {
  readonly settings: StageSettings;
  /** The platform key (ControlPlaneStack): pooled tiers share it. */
  readonly platformKey: kms.IKey;
  /** The tenant API (ControlPlaneStack) the documents routes join, behind its authorizer. */
  readonly httpApi: apigw.IHttpApi;
  readonly authorizerId: string;
}

/**
 * The sample API (src/lib/runtime/documents.ts): one function per operation, each on its route.
 * Documents live in DynamoDB, notes in the pooled PostgreSQL.
 */
export const DOCUMENT_ROUTES = [
  { operation: 'create', method: apigw.HttpMethod.POST, path: '/documents' },
  { operation: 'list', method: apigw.HttpMethod.GET, path: '/documents' },
  { operation: 'get', method: apigw.HttpMethod.GET, path: '/documents/{id}' },
  { operation: 'delete', method: apigw.HttpMethod.DELETE, path: '/documents/{id}' },
  { operation: 'createNote', method: apigw.HttpMethod.POST, path: '/notes' },
  { operation: 'listNotes', method: apigw.HttpMethod.GET, path: '/notes' },
  { operation: 'getNote', method: apigw.HttpMethod.GET, path: '/notes/{id}' },
  { operation: 'deleteNote', method: apigw.HttpMethod.DELETE, path: '/notes/{id}' },
] as const;

/**
 * Pooled tiers' data: the pooled app table (partition keys `TENANT#<id>` / `TENANT#<id>#<shard>`),
 * Aurora PostgreSQL Serverless v2 in isolated subnets with row-level security applied by a
 * custom resource (src/lib/runtime/postgres migrations) on every deploy, and the sample
 * documents API's functions on the tenant API.
 */
export class PoolStack extends Stack {
  readonly pooledTable: DataTable;
  readonly vpc: ec2.Vpc;
  readonly database: rds.DatabaseCluster;
  readonly appSecret: secretsmanager.Secret;
  readonly migrations: CustomResource;
  readonly documentFunctions: ReadonlyMap<string, SaasFunction>;

  constructor(scope: Construct, id: string, props: PoolStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.pooledTable = new DataTable(this, 'Pooled', {
      tableName: settings.names.pooledTable,
      encryptionKey: props.platformKey,
      settings,
    });

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogs', {
              retention: logs.RetentionDays.THREE_MONTHS,
              removalPolicy: settings.removalPolicy,
            }),
          ),
        },
      },
      gatewayEndpoints: {
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
      },
    });
    // Functions in isolated subnets reach these services through endpoints, never the internet.
    for (const [name, service] of [
      ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['Ssm', ec2.InterfaceVpcEndpointAwsService.SSM],
      ['Sts', ec2.InterfaceVpcEndpointAwsService.STS],
    ] as const) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, { service, privateDnsEnabled: true });
      acknowledge(
        endpoint,
        'AwsSolutions-EC23',
        "The endpoint's security group admits HTTPS from the VPC's own CIDR only (an intrinsic cdk-nag cannot resolve).",
      );
    }

    const clusterIdentifier = `saasctl-${settings.stage}-pooled`;
    // The cluster's log group, made here with a retention (no LogRetention custom resource).
    const databaseLogs = new logs.LogGroup(this, 'DatabaseLogs', {
      logGroupName: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: settings.removalPolicy,
    });
    this.database = new rds.DatabaseCluster(this, 'Database', {
      clusterIdentifier,
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 }),
      writer: rds.ClusterInstance.serverlessV2('writer'),
      serverlessV2MinCapacity: settings.production ? 0.5 : 0,
      serverlessV2MaxCapacity: 8,
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      credentials: rds.Credentials.fromGeneratedSecret('saasctl_owner'),
      defaultDatabaseName: 'saasctl',
      storageEncrypted: true,
      storageEncryptionKey: props.platformKey,
      iamAuthentication: true,
      cloudwatchLogsExports: ['postgresql'],
      backup: { retention: Duration.days(settings.production ? 14 : 1) },
      deletionProtection: settings.production,
      removalPolicy: settings.removalPolicy,
    });
    this.database.node.addDependency(databaseLogs);
    this.database.addRotationSingleUser({ automaticallyAfter: Duration.days(30) });
    if (!settings.production) {
      acknowledge(
        this.database,
        'AwsSolutions-RDS10',
        'Deletion protection is on in production stages; development stages are torn down with their stack.',
      );
    }
    this.appSecret = new secretsmanager.Secret(this, 'AppRoleSecret', {
      description: `saasctl ${settings.stage}: password of ${APP_ROLE} (NOSUPERUSER NOBYPASSRLS)`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: APP_ROLE }),
        generateStringKey: 'password',
        excludePunctuation: true,
        passwordLength: 40,
      },
    });
    acknowledge(
      this.appSecret,
      'AwsSolutions-SMG4',
      "The app role's password is set from this secret by the RLS migrations custom resource on every " +
        'deploy (ALTER ROLE); rotating it is a redeploy after rotating the secret value. A rotation Lambda ' +
        'doing the same is not built yet (infra/README.md, gaps).',
    );

    this.migrations = this.rlsMigrations(settings);
    this.documentFunctions = this.documentsApi(props);
  }

  /** Applies the RLS migrations on every deploy that changes them (their versions are a property). */
  private rlsMigrations(settings: StageSettings): CustomResource {
    const ownerSecret = this.database.secret;
    if (!ownerSecret) throw new Error('The cluster has no owner secret');
    const fn = new SaasFunction(this, 'RlsMigrations', {
      entry: 'rls-migrate',
      description: `saasctl ${settings.stage}: applies the pooled database's row-level security migrations`,
      environment: {
        SAASCTL_DB_OWNER_SECRET: ownerSecret.secretArn,
        SAASCTL_DB_APP_SECRET: this.appSecret.secretArn,
        // Node 20+ runtimes load the RDS certificate authorities only when told to.
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      },
      removalPolicy: settings.removalPolicy,
      timeout: Duration.minutes(5),
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    });
    ownerSecret.grantRead(fn);
    this.appSecret.grantRead(fn);
    this.database.connections.allowDefaultPortFrom(fn, 'RLS migrations');
    const provider = new cr.Provider(this, 'RlsMigrationsProvider', {
      onEventHandler: fn,
      logGroup: new logs.LogGroup(this, 'RlsMigrationsProviderLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: settings.removalPolicy,
      }),
    });
    acknowledge(
      provider,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "The CDK custom resource provider framework's own function: CDK fixes its role.",
    );
    acknowledge(
      provider,
      `AwsSolutions-IAM5[Resource::${nagArn(fn)}:*]`,
      'The provider framework invokes any version of the migrations function (CDK grants it so).',
    );
    const resource = new CustomResource(this, 'RlsMigrationsApplied', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::SaasctlRlsMigrations',
      properties: { versions: MIGRATIONS.map((m) => `${m.version}:${m.name}`).join(',') },
    });
    resource.node.addDependency(this.database);
    return resource;
  }

  private documentsApi(props: PoolStackProps): Map<string, SaasFunction> {
    const { settings } = props;
    const authorizer = apigw.HttpAuthorizer.fromHttpAuthorizerAttributes(this, 'TenantAuthorizer', {
      authorizerId: props.authorizerId,
      authorizerType: 'CUSTOM',
    });
    const functions = new Map<string, SaasFunction>();
    for (const route of DOCUMENT_ROUTES) {
      const id = `Documents${route.operation[0].toUpperCase()}${route.operation.slice(1)}`;
      // Data is touched with the credentials the authorizer vends, never with this role: it
      // holds only the app role's database secret and the platform parameter.
      const fn = new SaasFunction(this, id, {
        entry: 'documents',
        description: `saasctl ${settings.stage}: sample documents API, ${route.operation}`,
        environment: {
          ...platformEnvironment(settings),
          SAASCTL_DOCUMENTS_OPERATION: route.operation,
          SAASCTL_DB_APP_SECRET: this.appSecret.secretArn,
          SAASCTL_DB_HOST: this.database.clusterEndpoint.hostname,
          NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
        },
        removalPolicy: settings.removalPolicy,
        timeout: Duration.seconds(10),
        vpc: this.vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      });
      grantPlatformRead(fn, settings);
      grantTenantDataWriter(fn, settings, { platformKeyArn: props.platformKey.keyArn });
      this.appSecret.grantRead(fn);
      this.database.connections.allowDefaultPortFrom(fn, `documents ${route.operation}`);
      new apigw.HttpRoute(this, `${id}Route`, {
        httpApi: props.httpApi,
        routeKey: apigw.HttpRouteKey.with(route.path, route.method),
        integration: new HttpLambdaIntegration(`${id}Integration`, fn),
        authorizer,
      });
      functions.set(route.operation, fn);
    }
    return functions;
  }
}
