import { Aws, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

import { siloStackName } from '../../src/lib/infra/deploy-silo.js';
import { TENANT_TAG } from '../../src/lib/keys/tenant-key.js';
import { tenantTableName } from '../../src/lib/tenants/silo-table.js';
import { tenantIdProblem, TENANT_ID_RULE } from '../../src/lib/tenants/model.js';
import { DataTable } from './data-table.js';
import { grantPlatformRead, grantTenantDataWriter, platformEnvironment } from './platform-access.js';
import { DOCUMENT_ROUTES } from './pool-stack.js';
import { SaasFunction } from './saas-function.js';
import type { StageSettings } from './settings.js';

/** One silo tenant, as the catalog knows it after onboarding created its key. */
export interface SiloTenant {
  readonly tenantId: string;
  readonly tier: string;
  /** Where its table, key and compute live. */
  readonly region: string;
  /** Its own KMS key (onboarding's CreateTenantKey). */
  readonly keyArn: string;
  /** Its own account (enterprise-account); the platform's when absent. */
  readonly accountId?: string;
}

export interface SiloStackProps extends StackProps {
  readonly settings: StageSettings;
  readonly tenant: SiloTenant;
  /** The control plane's region: where the platform parameter and the catalog are. */
  readonly platformRegion: string;
  /**
   * Who owns the tenant's table. `workflow` (default): onboarding's CreateTenantTable made it
   * (PITR, the tenant key, tags) and offboarding deletes it, so the stack only references it.
   * `stack`: the stack creates it, for a silo stood up outside the workflow.
   */
  readonly tableOwnership?: 'workflow' | 'stack';
}

/** The stack id of a tenant's silo: the name the CLI's deploy selects (src/lib/infra/deploy-silo.ts). */
export const siloStackId = siloStackName;

/**
 * A silo tenant's dedicated compute next to its dedicated table: its own HTTP API, authorizer
 * (refusing any other tenant) and documents functions, in the tenant's region. Every resource
 * carries the `tenantId` tag for cost allocation.
 */
export class SiloStack extends Stack {
  readonly table: dynamodb.ITable;
  readonly httpApi: apigw.HttpApi;
  readonly functions: readonly SaasFunction[];

  constructor(scope: Construct, id: string, props: SiloStackProps) {
    const { tenant, settings } = props;
    const problem = tenantIdProblem(tenant.tenantId);
    if (problem)
      throw new Error(`Invalid tenant id "${tenant.tenantId}": ${problem}. Rule: ${TENANT_ID_RULE}.`);
    super(scope, id, {
      ...props,
      env: { region: tenant.region, ...(tenant.accountId ? { account: tenant.accountId } : {}) },
      description: `saasctl ${settings.stage}: silo of tenant ${tenant.tenantId} (${tenant.tier})`,
    });
    Tags.of(this).add(TENANT_TAG, tenant.tenantId);
    Tags.of(this).add('tier', tenant.tier);
    Tags.of(this).add('saasctl:stage', settings.stage);

    const key = kms.Key.fromKeyArn(this, 'TenantKey', tenant.keyArn);
    const tableName = tenantTableName(settings.stage, tenant.tenantId);
    this.table =
      props.tableOwnership === 'stack'
        ? new DataTable(this, 'TenantTable', { tableName, encryptionKey: key, settings }).table
        : dynamodb.Table.fromTableAttributes(this, 'TenantTable', { tableName, encryptionKey: key });

    const environment = {
      ...platformEnvironment(settings, props.platformRegion),
      SAASCTL_SILO_TENANT: tenant.tenantId,
    };
    const authorizerFn = new SaasFunction(this, 'Authorizer', {
      entry: 'authorizer',
      description: `saasctl ${settings.stage}: authorizer of silo ${tenant.tenantId}`,
      environment,
      removalPolicy: settings.removalPolicy,
      timeout: Duration.seconds(10),
    });
    grantPlatformRead(authorizerFn, settings, props.platformRegion);
    authorizerFn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadTenantRecords',
        actions: ['dynamodb:GetItem'],
        resources: [
          this.formatArn({
            service: 'dynamodb',
            region: props.platformRegion,
            resource: 'table',
            resourceName: settings.names.controlPlaneTable,
          }),
        ],
      }),
    );
    authorizerFn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'VendTenantCredentials',
        actions: ['sts:AssumeRole', 'sts:TagSession'],
        resources: [
          this.formatArn({
            service: 'iam',
            region: '',
            resource: 'role',
            resourceName: settings.names.tenantRuntimeRole,
          }),
        ],
      }),
    );

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: settings.removalPolicy,
    });
    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      apiName: `saasctl-${settings.stage}-silo-${tenant.tenantId}`,
      createDefaultStage: false,
    });
    new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 500, burstLimit: 1000 },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });
    const authorizer = new apigw.HttpAuthorizer(this, 'TenantAuthorizer', {
      httpApi: this.httpApi,
      type: apigw.HttpAuthorizerType.LAMBDA,
      identitySource: ['$request.header.Authorization'],
      payloadFormatVersion: apigw.AuthorizerPayloadVersion.VERSION_2_0,
      enableSimpleResponses: true,
      resultsCacheTtl: Duration.seconds(60),
      authorizerUri: `arn:${Aws.PARTITION}:apigateway:${Aws.REGION}:lambda:path/2015-03-31/functions/${authorizerFn.functionArn}/invocations`,
    });
    authorizerFn.addPermission('HttpApiInvokesAuthorizer', {
      principal: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      sourceArn: this.formatArn({
        service: 'execute-api',
        resource: this.httpApi.apiId,
        resourceName: `authorizers/${authorizer.authorizerId}`,
      }),
    });
    const routeAuthorizer = apigw.HttpAuthorizer.fromHttpAuthorizerAttributes(this, 'RouteAuthorizer', {
      authorizerId: authorizer.authorizerId,
      authorizerType: 'CUSTOM',
    });

    const functions: SaasFunction[] = [authorizerFn];
    // Documents only: a silo's notes would need its own database (a gap, infra/README.md).
    for (const route of DOCUMENT_ROUTES.filter((r) => r.path.startsWith('/documents'))) {
      const id = `Documents${route.operation[0].toUpperCase()}${route.operation.slice(1)}`;
      const fn = new SaasFunction(this, id, {
        entry: 'documents',
        description: `saasctl ${settings.stage}: documents ${route.operation} of silo ${tenant.tenantId}`,
        environment: { ...environment, SAASCTL_DOCUMENTS_OPERATION: route.operation },
        removalPolicy: settings.removalPolicy,
        timeout: Duration.seconds(10),
      });
      grantPlatformRead(fn, settings, props.platformRegion);
      grantTenantDataWriter(fn, settings, { platformRegion: props.platformRegion });
      new apigw.HttpRoute(this, `${id}Route`, {
        httpApi: this.httpApi,
        routeKey: apigw.HttpRouteKey.with(route.path, route.method),
        integration: new HttpLambdaIntegration(`${id}Integration`, fn),
        authorizer: routeAuthorizer,
      });
      functions.push(fn);
    }
    this.functions = functions;
  }
}
