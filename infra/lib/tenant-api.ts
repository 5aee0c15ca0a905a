import { Aws, Duration, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

import {
  tenantLeadingKeys,
  TENANT_ITEM_ACTIONS_EXPANDED,
  TENANT_OBJECT_ACTIONS,
  tenantObjectPrefix,
} from '../../src/lib/runtime/policy.js';
import { TENANT_ID_SESSION_TAG } from '../../src/lib/runtime/vending.js';
import { tenantTableName } from '../../src/lib/tenants/silo-table.js';
import type { DataTable } from './data-table.js';
import { acknowledge, nagArn } from './nag.js';
import { grantPlatformRead, platformEnvironment } from './platform-access.js';
import { SaasFunction } from './saas-function.js';
import type { StageSettings } from './settings.js';

/** The session tag the authorizer sets, as an IAM policy variable. */
export const TENANT_TAG_VARIABLE = `\${aws:PrincipalTag/${TENANT_ID_SESSION_TAG}}`;

export interface TenantApiProps {
  readonly settings: StageSettings;
  readonly controlPlaneTable: DataTable;
  /** Encrypts the pooled table and the tenant data bucket. */
  readonly platformKey: kms.IKey;
  /** Tenants' application objects, `<tenantId>/...`. */
  readonly tenantDataBucket: s3.IBucket;
}

/**
 * The tenant-facing HTTP API and token vending. The Lambda authorizer verifies the access
 * token and assumes the tenant runtime role with the tenant's session policy and a `tenantId`
 * session tag. The role's own (base) policy already confines every session to the tenant named
 * by that tag (`${aws:PrincipalTag/tenantId}` in the LeadingKeys condition and object prefix),
 * so a session policy that went wrong could never widen it: IAM intersects the two.
 */
export class TenantApi extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly authorizerFunction: SaasFunction;
  readonly authorizerId: string;
  readonly runtimeRole: iam.Role;

  constructor(scope: Construct, id: string, props: TenantApiProps) {
    super(scope, id);
    const { settings } = props;
    const stack = Stack.of(this);
    const runtimeRoleArn = stack.formatArn({
      service: 'iam',
      region: '',
      resource: 'role',
      resourceName: settings.names.tenantRuntimeRole,
    });

    this.authorizerFunction = new SaasFunction(this, 'Authorizer', {
      entry: 'authorizer',
      description: `saasctl ${settings.stage}: HTTP API authorizer and token vending`,
      environment: platformEnvironment(settings),
      removalPolicy: settings.removalPolicy,
      timeout: Duration.seconds(10),
    });
    grantPlatformRead(this.authorizerFunction, settings);
    props.controlPlaneTable.grantReadData(this.authorizerFunction);
    this.authorizerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'VendTenantCredentials',
        actions: ['sts:AssumeRole', 'sts:TagSession'],
        resources: [runtimeRoleArn],
      }),
    );

    this.runtimeRole = new iam.Role(this, 'TenantRuntimeRole', {
      roleName: settings.names.tenantRuntimeRole,
      description: `saasctl ${settings.stage}: tenant-scoped sessions vended by the authorizer`,
      maxSessionDuration: Duration.hours(1),
      // Only the authorizer, and only with a non-empty tenantId session tag.
      assumedBy: new iam.SessionTagsPrincipal(
        new iam.ArnPrincipal(this.authorizerFunction.role?.roleArn ?? ''),
      ).withConditions({ StringLike: { [`aws:RequestTag/${TENANT_ID_SESSION_TAG}`]: '?*' } }),
    });
    const basePolicy = new iam.Policy(this, 'TenantRuntimeBasePolicy', {
      statements: tenantRuntimeStatements(stack, props, settings),
    });
    this.runtimeRole.attachInlinePolicy(basePolicy);
    const tag = '<aws:PrincipalTag/tenantId>';
    const confined =
      'Confined by ${aws:PrincipalTag/tenantId}, the tenant the authorizer tagged the session with';
    acknowledge(
      basePolicy,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:dynamodb:*:<AWS::AccountId>:table/${tenantTableName(settings.stage, tag)}]`,
      `${confined}: that tenant's own silo table, in whichever region the tenant chose.`,
    );
    acknowledge(
      basePolicy,
      `AwsSolutions-IAM5[Resource::${nagArn(props.tenantDataBucket)}/${tenantObjectPrefix(tag)}*]`,
      `${confined}: objects under that tenant's own prefix only.`,
    );
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: settings.removalPolicy,
    });
    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      apiName: settings.names.httpApi,
      description: `saasctl ${settings.stage}: tenant API (authorizer: token vending)`,
      createDefaultStage: false,
    });
    new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 1000, burstLimit: 2000 },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            time: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            latency: '$context.responseLatency',
            tenantId: '$context.authorizer.tenantId',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    const authorizer = new apigw.HttpAuthorizer(this, 'TenantAuthorizer', {
      httpApi: this.httpApi,
      authorizerName: 'tenant-token-vending',
      type: apigw.HttpAuthorizerType.LAMBDA,
      identitySource: ['$request.header.Authorization'],
      payloadFormatVersion: apigw.AuthorizerPayloadVersion.VERSION_2_0,
      enableSimpleResponses: true,
      // Shorter than the vended credentials' guaranteed remaining life (5 minutes).
      resultsCacheTtl: Duration.seconds(60),
      authorizerUri: `arn:${Aws.PARTITION}:apigateway:${Aws.REGION}:lambda:path/2015-03-31/functions/${this.authorizerFunction.functionArn}/invocations`,
    });
    this.authorizerId = authorizer.authorizerId;
    this.authorizerFunction.addPermission('HttpApiInvokesAuthorizer', {
      principal: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      sourceArn: stack.formatArn({
        service: 'execute-api',
        resource: this.httpApi.apiId,
        resourceName: `authorizers/${authorizer.authorizerId}`,
      }),
    });
  }
}

/**
 * The runtime role's base policy: every grant is confined to the tenant of the session tag.
 * Items: the pooled table and the tenant's own silo table (any region), only under the
 * partition keys `TENANT#<tag>` and `TENANT#<tag>#*` (never `TENANT#<tag>*`, which would match
 * `TENANT#<tag>2`); no Scan, no PartiQL, no index. Objects: `<tag>/` in the tenant data bucket.
 */
export function tenantRuntimeStatements(
  stack: Stack,
  props: Pick<TenantApiProps, 'platformKey' | 'tenantDataBucket'>,
  settings: StageSettings,
): iam.PolicyStatement[] {
  const pooledTable = stack.formatArn({
    service: 'dynamodb',
    resource: 'table',
    resourceName: settings.names.pooledTable,
  });
  const siloTables = stack.formatArn({
    service: 'dynamodb',
    region: '*',
    resource: 'table',
    resourceName: tenantTableName(settings.stage, TENANT_TAG_VARIABLE),
  });
  const tables = [pooledTable, siloTables];
  const prefix = tenantObjectPrefix(TENANT_TAG_VARIABLE);
  return [
    new iam.PolicyStatement({
      sid: 'TenantItems',
      actions: [...TENANT_ITEM_ACTIONS_EXPANDED],
      resources: tables,
      conditions: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': tenantLeadingKeys(TENANT_TAG_VARIABLE) },
        // ForAllValues holds for an empty set: a request without leading keys gets nothing.
        Null: { 'dynamodb:LeadingKeys': 'false' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'NoScanNoPartiQL',
      effect: iam.Effect.DENY,
      actions: ['dynamodb:Scan', 'dynamodb:PartiQL*'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'NoUntenantedIndexes',
      effect: iam.Effect.DENY,
      actions: ['dynamodb:*'],
      resources: tables.map((arn) => `${arn}/index/*`),
    }),
    new iam.PolicyStatement({
      sid: 'TenantObjects',
      actions: [...TENANT_OBJECT_ACTIONS],
      resources: [props.tenantDataBucket.arnForObjects(`${prefix}*`)],
    }),
    new iam.PolicyStatement({
      sid: 'TenantListing',
      actions: ['s3:ListBucket'],
      resources: [props.tenantDataBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [prefix, `${prefix}*`] } },
    }),
    new iam.PolicyStatement({
      sid: 'PlatformKeyThroughDataServices',
      actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      resources: [props.platformKey.keyArn],
      conditions: {
        StringEquals: {
          'kms:ViaService': [`dynamodb.${Aws.REGION}.amazonaws.com`, `s3.${Aws.REGION}.amazonaws.com`],
        },
      },
    }),
  ];
}
