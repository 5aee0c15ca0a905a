import { Aws, Duration, Stack } from 'aws-cdk-lib';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { tenantTableName } from '../../src/lib/tenants/silo-table.js';
import { RECORD_FAILURE_STATE, renderAsl } from '../../src/lib/workflow/asl.js';
import type { WorkflowDefinition } from '../../src/lib/workflow/definition.js';
import { offboardingWorkflow } from '../../src/lib/workflow/offboarding.js';
import { onboardingWorkflow } from '../../src/lib/workflow/onboarding.js';
import type { DataTable } from './data-table.js';
import { acknowledge, nagArn } from './nag.js';
import { grantPlatformRead, platformEnvironment } from './platform-access.js';
import { SaasFunction } from './saas-function.js';
import type { StageSettings } from './settings.js';

export interface TenantWorkflowsProps {
  readonly settings: StageSettings;
  readonly controlPlaneTable: DataTable;
  readonly userPool: cognito.IUserPool;
  /** Encrypts the pooled table (offboarding deletes a tenant's pooled items). */
  readonly platformKey: kms.IKey;
}

/** One deployed workflow: its state machine and the Lambda behind each of its states. */
export interface DeployedWorkflow {
  readonly stateMachine: sfn.StateMachine;
  /** Step name (and RecordFailure) to its function. */
  readonly functions: ReadonlyMap<string, SaasFunction>;
}

/**
 * The onboarding and offboarding state machines, rendered by src/lib/workflow's renderAsl from
 * the very definitions the local runner executes, with one Lambda per step. Each step's role
 * holds only what that step does (its grants are listed per step below).
 */
export class TenantWorkflows extends Construct {
  readonly onboarding: DeployedWorkflow;
  readonly offboarding: DeployedWorkflow;

  constructor(scope: Construct, id: string, props: TenantWorkflowsProps) {
    super(scope, id);
    const grants = stepGrants(Stack.of(this), props);
    this.onboarding = this.deploy(
      onboardingWorkflow,
      props.settings.names.onboardingStateMachine,
      props,
      grants,
    );
    this.offboarding = this.deploy(
      offboardingWorkflow,
      props.settings.names.offboardingStateMachine,
      props,
      grants,
    );
  }

  private deploy<S>(
    definition: WorkflowDefinition<S>,
    stateMachineName: string,
    props: TenantWorkflowsProps,
    grants: Readonly<Record<string, readonly iam.PolicyStatement[]>>,
  ): DeployedWorkflow {
    const { settings } = props;
    const scope = new Construct(this, definition.name);
    const functions = new Map<string, SaasFunction>();
    for (const step of [...definition.steps.map((s) => s.name), RECORD_FAILURE_STATE]) {
      const fn = new SaasFunction(scope, step, {
        entry: 'workflow-step',
        description: `saasctl ${settings.stage}: ${definition.name} step ${step}`,
        environment: {
          ...platformEnvironment(settings),
          SAASCTL_WORKFLOW: definition.name,
          SAASCTL_STEP: step,
        },
        removalPolicy: settings.removalPolicy,
        // Step Functions retries; a step itself never waits long (account creation is polled).
        timeout: Duration.minutes(2),
      });
      grantPlatformRead(fn, settings);
      // Every step records its progress on the tenant (handleStep), so each writes the control plane.
      props.controlPlaneTable.grantReadWriteData(fn);
      for (const statement of grants[`${definition.name}.${step}`] ?? []) fn.addToRolePolicy(statement);
      for (const [finding, reason] of Object.entries(STEP_WILDCARDS)) {
        if (finding.startsWith(`${definition.name}.${step} `)) {
          const id = finding.slice(finding.indexOf(' ') + 1).replaceAll('${STAGE}', settings.stage);
          acknowledge(fn.role ?? fn, `AwsSolutions-IAM5[${id}]`, reason);
        }
      }
      functions.set(step, fn);
    }
    const asl = renderAsl(definition, (step) => {
      const fn = functions.get(step);
      if (!fn) throw new Error(`${definition.name} renders a state for ${step}, which has no function`);
      return fn.functionArn;
    });
    const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(Stack.of(this).toJsonString(asl)),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(scope, 'ExecutionLogs', {
          retention: logs.RetentionDays.THREE_MONTHS,
          removalPolicy: settings.removalPolicy,
        }),
        level: sfn.LogLevel.ALL,
        // The input holds the admin's email: history keeps it, the logs need not.
        includeExecutionData: false,
      },
    });
    acknowledge(
      stateMachine.role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray trace upload (tracing on) and log delivery to CloudWatch Logs take no resource ARN.',
    );
    for (const fn of functions.values()) {
      fn.grantInvoke(stateMachine);
      acknowledge(
        stateMachine.role,
        `AwsSolutions-IAM5[Resource::${nagArn(fn)}:*]`,
        `Invoking any version of its own step function ${fn.node.id} (CDK's grantInvoke).`,
      );
    }
    return { stateMachine, functions };
  }
}

/** What each step does beyond the control plane, as IAM: `<workflow>.<step>` to statements. */
function stepGrants(stack: Stack, props: TenantWorkflowsProps): Record<string, iam.PolicyStatement[]> {
  const { settings } = props;
  const siloTables = stack.formatArn({
    service: 'dynamodb',
    region: '*',
    resource: 'table',
    resourceName: tenantTableName(settings.stage, '*'),
  });
  const anyKey = stack.formatArn({ service: 'kms', region: '*', resource: 'key', resourceName: '*' });
  const tenantAliases = stack.formatArn({
    service: 'kms',
    region: '*',
    resource: 'alias',
    resourceName: `saasctl/${settings.stage}/tenant/*`,
  });
  const pooledTable = stack.formatArn({
    service: 'dynamodb',
    resource: 'table',
    resourceName: settings.names.pooledTable,
  });
  // Silo resources of an enterprise-account tenant live in its own account (tenants/context.ts).
  const intoTenantAccounts = new iam.PolicyStatement({
    sid: 'IntoTenantAccounts',
    actions: ['sts:AssumeRole'],
    resources: [`arn:${Aws.PARTITION}:iam::*:role/OrganizationAccountAccessRole`],
  });
  const cognitoAdmin = (...actions: string[]): iam.PolicyStatement =>
    new iam.PolicyStatement({
      actions: actions.map((a) => `cognito-idp:${a}`),
      resources: [props.userPool.userPoolArn],
    });
  const tenantKeys = (...actions: string[]): iam.PolicyStatement =>
    new iam.PolicyStatement({
      actions: actions.map((a) => `kms:${a}`),
      resources: [anyKey],
      // Only keys tagged for this stage (ensureTenantKey tags every key it creates).
      conditions: { StringEquals: { 'aws:ResourceTag/saasctl:stage': settings.stage } },
    });
  return {
    'onboarding.CreateTenantAccount': [
      new iam.PolicyStatement({
        actions: [
          'organizations:CreateAccount',
          'organizations:DescribeCreateAccountStatus',
          'organizations:ListAccounts',
        ],
        resources: ['*'],
      }),
    ],
    'onboarding.CreateTenantKey': [
      new iam.PolicyStatement({ actions: ['kms:ListKeys', 'kms:ListAliases'], resources: ['*'] }),
      // A key is born tagged with the stage (and tenant): creating untagged keys is refused.
      new iam.PolicyStatement({
        actions: ['kms:CreateKey', 'kms:TagResource'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:RequestTag/saasctl:stage': settings.stage } },
      }),
      tenantKeys(
        'DescribeKey',
        'TagResource',
        'ListResourceTags',
        'EnableKeyRotation',
        'GetKeyRotationStatus',
        'PutKeyPolicy',
        'CreateAlias',
      ),
      new iam.PolicyStatement({
        actions: ['kms:CreateAlias', 'kms:DescribeKey'],
        resources: [tenantAliases],
      }),
      intoTenantAccounts,
    ],
    'onboarding.CreateTenantTable': [
      new iam.PolicyStatement({
        actions: [
          'dynamodb:CreateTable',
          'dynamodb:DescribeTable',
          'dynamodb:UpdateContinuousBackups',
          'dynamodb:TagResource',
        ],
        resources: [siloTables],
      }),
      // DynamoDB creates its grant on the tenant key on the caller's behalf.
      tenantKeys('DescribeKey', 'CreateGrant'),
      intoTenantAccounts,
    ],
    'onboarding.CreateTenantGroup': [cognitoAdmin('GetGroup', 'CreateGroup')],
    'onboarding.CreateAdminUser': [
      cognitoAdmin('AdminGetUser', 'AdminCreateUser', 'AdminAddUserToGroup', 'AdminUpdateUserAttributes'),
    ],
    'offboarding.DeletePooledItems': [
      // A tenant's items are found by Scan on its key prefix: the operators' path, not the runtime's.
      new iam.PolicyStatement({
        actions: ['dynamodb:Scan', 'dynamodb:BatchWriteItem'],
        resources: [pooledTable],
      }),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [props.platformKey.keyArn],
      }),
    ],
    'offboarding.DeleteTenantTable': [
      new iam.PolicyStatement({
        actions: ['dynamodb:DeleteTable', 'dynamodb:DescribeTable'],
        resources: [siloTables],
      }),
      intoTenantAccounts,
    ],
    'offboarding.ScheduleKeyDeletion': [
      tenantKeys('DescribeKey', 'ScheduleKeyDeletion'),
      new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [tenantAliases] }),
      intoTenantAccounts,
    ],
    'offboarding.DeleteTenantIdentity': [
      cognitoAdmin('GetGroup', 'DeleteGroup', 'ListUsersInGroup', 'AdminDeleteUser'),
    ],
  };
}

const TENANT_KEYS = 'Resource::arn:<AWS::Partition>:kms:*:<AWS::AccountId>:key/*';
const TENANT_KEY_REASON =
  "Tenant keys are created at onboarding, in the tenant's region: their ARNs are not known here. The " +
  "statement is conditioned on the key's saasctl:stage tag.";
const ORG_ROLE = 'Resource::arn:<AWS::Partition>:iam::*:role/OrganizationAccountAccessRole';
const ORG_ROLE_REASON =
  "An enterprise-account tenant's silo resources live in its own account, reached through the " +
  'Organizations role there; the account is created at onboarding.';
const ALIASES_REASON = "The aliases of this stage's tenant keys, in any region.";

/**
 * The wildcard findings each step's grants carry, and why: keyed `<workflow>.<step> <finding>`,
 * `${STAGE}` standing for the stage.
 */
const STEP_WILDCARDS: Readonly<Record<string, string>> = {
  'onboarding.CreateTenantAccount Resource::*':
    'Organizations CreateAccount, DescribeCreateAccountStatus and ListAccounts take no resource ARN.',
  'onboarding.CreateTenantKey Resource::*':
    'kms:CreateKey, ListKeys and ListAliases take no resource ARN; CreateKey and TagResource are conditioned on the stage tag.',
  [`onboarding.CreateTenantKey ${TENANT_KEYS}`]: TENANT_KEY_REASON,
  [`onboarding.CreateTenantKey Resource::arn:<AWS::Partition>:kms:*:<AWS::AccountId>:alias/saasctl/\${STAGE}/tenant/*`]:
    ALIASES_REASON,
  [`onboarding.CreateTenantKey ${ORG_ROLE}`]: ORG_ROLE_REASON,
  [`onboarding.CreateTenantTable ${TENANT_KEYS}`]: TENANT_KEY_REASON,
  [`onboarding.CreateTenantTable ${ORG_ROLE}`]: ORG_ROLE_REASON,
  [`onboarding.CreateTenantTable Resource::arn:<AWS::Partition>:dynamodb:*:<AWS::AccountId>:table/\${STAGE}-tenant-*`]:
    "Silo tables are named <stage>-tenant-<id> and created in the tenant's region at onboarding.",
  [`offboarding.DeleteTenantTable Resource::arn:<AWS::Partition>:dynamodb:*:<AWS::AccountId>:table/\${STAGE}-tenant-*`]:
    "Silo tables are named <stage>-tenant-<id>, in the tenant's region.",
  [`offboarding.DeleteTenantTable ${ORG_ROLE}`]: ORG_ROLE_REASON,
  [`offboarding.ScheduleKeyDeletion ${TENANT_KEYS}`]: TENANT_KEY_REASON,
  [`offboarding.ScheduleKeyDeletion Resource::arn:<AWS::Partition>:kms:*:<AWS::AccountId>:alias/saasctl/\${STAGE}/tenant/*`]:
    ALIASES_REASON,
  [`offboarding.ScheduleKeyDeletion ${ORG_ROLE}`]: ORG_ROLE_REASON,
};
