import { expect } from 'chai';
import { Match, Template } from 'aws-cdk-lib/assertions';

import { LAKE_PREFIX } from '../../infra/lib/metering.js';
import { buildReconcileQuery } from '../../src/lib/metering/athena.js';
import { hourPrefix } from '../../src/lib/metering/lake-layout.js';
import { parsePlatformConfig, platformParameterName } from '../../src/lib/platform/config.js';
import { renderAsl } from '../../src/lib/workflow/asl.js';
import { offboardingWorkflow } from '../../src/lib/workflow/offboarding.js';
import { onboardingWorkflow } from '../../src/lib/workflow/onboarding.js';
import { evaluate, logicalIdOf, synthesize } from './fixture.js';

type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string }
>;

function resourcesOf(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

describe('infra: ControlPlaneStack and PoolStack', function () {
  this.timeout(120_000);
  let controlPlane: Template;
  let pool: Template;

  before(() => {
    const { stacks } = synthesize();
    controlPlane = Template.fromStack(stacks.controlPlane!);
    pool = Template.fromStack(stacks.pool!);
  });

  it('turns point-in-time recovery on and encrypts every table with a customer managed key', () => {
    const tables = {
      ...resourcesOf(controlPlane, 'AWS::DynamoDB::Table'),
      ...resourcesOf(pool, 'AWS::DynamoDB::Table'),
    };
    expect(Object.keys(tables)).to.have.length(4);
    for (const [id, table] of Object.entries(tables)) {
      expect(table.Properties?.PointInTimeRecoverySpecification, id).to.deep.equal({
        PointInTimeRecoveryEnabled: true,
      });
      expect(table.Properties?.SSESpecification, id).to.deep.include({ SSEEnabled: true, SSEType: 'KMS' });
    }
    const names = Object.values(tables).map((t) => t.Properties?.TableName);
    expect(names).to.have.members([
      'saasctl-test-control-plane',
      'saasctl-test-usage',
      'saasctl-test-marketplace-ledger',
      'saasctl-test-pooled',
    ]);
  });

  it('rotates every KMS key it creates', () => {
    const keys = resourcesOf(controlPlane, 'AWS::KMS::Key');
    expect(Object.keys(keys)).to.have.length.greaterThan(1);
    for (const [id, key] of Object.entries(keys))
      expect(key.Properties?.EnableKeyRotation, id).to.equal(true);
  });

  it('keeps tables and keys on delete, with deletion protection, only in production stages', () => {
    expect(
      Object.values(resourcesOf(controlPlane, 'AWS::DynamoDB::Table')).map((t) => t.DeletionPolicy),
    ).to.deep.equal(['Delete', 'Delete', 'Delete']);
    const { stacks } = synthesize({ stage: 'prod' });
    const prod = Template.fromStack(stacks.controlPlane!);
    for (const table of Object.values(resourcesOf(prod, 'AWS::DynamoDB::Table'))) {
      expect(table.DeletionPolicy).to.equal('Retain');
      expect(table.Properties?.DeletionProtectionEnabled).to.equal(true);
    }
    for (const key of Object.values(resourcesOf(prod, 'AWS::KMS::Key')))
      expect(key.DeletionPolicy).to.equal('Retain');
    const prodPool = Template.fromStack(stacks.pool!);
    prodPool.hasResource('AWS::RDS::DBCluster', {
      DeletionPolicy: 'Retain',
      Properties: { DeletionProtection: true },
    });
    prod.hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'ON',
      DeletionProtection: 'ACTIVE',
    });
  });

  describe('the tenant runtime role', () => {
    const tag = '${aws:PrincipalTag/tenantId}';
    let statements: {
      Sid?: string;
      Effect: string;
      Action: string | string[];
      Resource: unknown;
      Condition?: Record<string, Record<string, unknown>>;
    }[];

    before(() => {
      const policies = Object.entries(resourcesOf(controlPlane, 'AWS::IAM::Policy')).filter(([id]) =>
        id.startsWith('TenantApiTenantRuntimeBasePolicy'),
      );
      expect(policies).to.have.length(1);
      statements = (evaluate(policies[0][1].Properties?.PolicyDocument) as { Statement: typeof statements })
        .Statement;
    });

    it('confines items to the session tag’s partitions with the delimiter, never a bare prefix', () => {
      const items = statements.find((s) => s.Sid === 'TenantItems');
      expect(items?.Condition?.['ForAllValues:StringLike']).to.deep.equal({
        'dynamodb:LeadingKeys': [`TENANT#${tag}`, `TENANT#${tag}#*`],
      });
      expect(items?.Condition?.Null).to.deep.equal({ 'dynamodb:LeadingKeys': 'false' });
      expect(items?.Action).to.not.include('dynamodb:Scan');
    });

    it('lets tenant acme reach its own partitions and shards, and never acme2’s or acme-2’s', () => {
      const items = statements.find((s) => s.Sid === 'TenantItems');
      const patterns = (
        items?.Condition?.['ForAllValues:StringLike']['dynamodb:LeadingKeys'] as string[]
      ).map((p) => p.replaceAll(tag, 'acme'));
      const allowed = (key: string): boolean => patterns.some((p) => stringLike(p, key));
      expect(allowed('TENANT#acme')).to.equal(true);
      expect(allowed('TENANT#acme#7')).to.equal(true);
      for (const other of [
        'TENANT#acme2',
        'TENANT#acme-2',
        'TENANT#acme2#1',
        'TENANT#acm',
        'TENANT#acme-2#x',
      ]) {
        expect(allowed(other), other).to.equal(false);
      }
    });

    it('denies Scan, PartiQL and every index, and limits objects to the tag’s prefix', () => {
      const deny = statements.filter((s) => s.Effect === 'Deny');
      expect(deny.map((s) => s.Action)).to.deep.include(['dynamodb:Scan', 'dynamodb:PartiQL*']);
      const indexes = deny.find((s) => s.Sid === 'NoUntenantedIndexes');
      expect(indexes?.Resource).to.satisfy((r: string[]) => r.every((arn) => arn.endsWith('/index/*')));
      const objects = statements.find((s) => s.Sid === 'TenantObjects');
      expect(String(objects?.Resource)).to.match(new RegExp(`/\\$\\{aws:PrincipalTag/tenantId\\}/\\*$`));
    });

    it('is assumable only by the authorizer, with sts:TagSession and a tenantId tag', () => {
      const roles = resourcesOf(controlPlane, 'AWS::IAM::Role');
      const runtime = Object.values(roles).find(
        (r) => r.Properties?.RoleName === 'saasctl-test-tenant-runtime',
      );
      const trust = evaluate(runtime?.Properties?.AssumeRolePolicyDocument) as {
        Statement: { Action: string[]; Principal: { AWS: string }; Condition: unknown }[];
      };
      expect(trust.Statement).to.have.length(1);
      expect(trust.Statement[0].Action).to.have.members(['sts:AssumeRole', 'sts:TagSession']);
      expect(trust.Statement[0].Principal.AWS).to.match(/^TenantApiAuthorizerRole[0-9A-F]+\.Arn$/);
      expect(trust.Statement[0].Condition).to.deep.equal({ StringLike: { 'aws:RequestTag/tenantId': '?*' } });
    });
  });

  it('leaves no bucket public and refuses plain HTTP on every bucket', () => {
    for (const template of [controlPlane, pool]) {
      for (const [id, bucket] of Object.entries(resourcesOf(template, 'AWS::S3::Bucket'))) {
        expect(bucket.Properties?.PublicAccessBlockConfiguration, id).to.deep.equal({
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        });
      }
      for (const policy of Object.values(resourcesOf(template, 'AWS::S3::BucketPolicy'))) {
        const statements = (policy.Properties?.PolicyDocument as { Statement: Record<string, unknown>[] })
          .Statement;
        expect(
          statements.some(
            (s) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('aws:SecureTransport'),
          ),
        ).to.equal(true);
        for (const s of statements) {
          if (s.Effect === 'Allow') expect(s.Principal).to.not.equal('*');
        }
      }
    }
  });

  it('keeps the raw lake versioned, KMS-encrypted and moving to cheaper storage', () => {
    controlPlane.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }],
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Prefix: 'raw/',
            Transitions: [
              { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
              { StorageClass: 'GLACIER_IR', TransitionInDays: 120 },
            ],
          }),
        ]),
      },
    });
  });

  it('lets app clients read but never write the custom tenant attributes', () => {
    const clients = Object.values(resourcesOf(controlPlane, 'AWS::Cognito::UserPoolClient'));
    expect(clients).to.have.length(1);
    const { WriteAttributes, ReadAttributes } = clients[0].Properties as {
      WriteAttributes: string[];
      ReadAttributes: string[];
    };
    expect(WriteAttributes).to.have.members(['email', 'name']);
    expect(WriteAttributes.filter((a) => a.startsWith('custom:'))).to.deep.equal([]);
    expect(ReadAttributes).to.include.members(['custom:tenantId', 'custom:tier']);
  });

  it('runs the pre-token-generation trigger as V2_0 on an Essentials pool', () => {
    controlPlane.hasResourceProperties('AWS::Cognito::UserPool', {
      UserPoolTier: 'ESSENTIALS',
      LambdaConfig: { PreTokenGenerationConfig: { LambdaVersion: 'V2_0', LambdaArn: Match.anyValue() } },
      Schema: Match.arrayWith([
        Match.objectLike({ Name: 'tenantId', Mutable: true }),
        Match.objectLike({ Name: 'tier', Mutable: true }),
      ]),
    });
  });

  it('delivers the stream to the lake under raw/YYYY/MM/DD/HH/, gzip, one event per line', () => {
    controlPlane.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamName: 'saasctl-test-usage-lake',
      DeliveryStreamType: 'KinesisStreamAsSource',
      ExtendedS3DestinationConfiguration: Match.objectLike({
        Prefix: 'raw/!{timestamp:yyyy/MM/dd/HH}/',
        ErrorOutputPrefix: Match.stringLikeRegexp('^firehose-errors/'),
        CompressionFormat: 'GZIP',
        ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
      }),
    });
    // Firehose's expansion of the prefix for an hour is the reader's prefix for that hour.
    const expanded = LAKE_PREFIX.replace('!{timestamp:yyyy/MM/dd/HH}', '2026/11/27/09');
    expect(expanded).to.equal(hourPrefix('2026-11-27T09'));
  });

  it('runs the aggregator on the stream without bisecting batches', () => {
    controlPlane.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BisectBatchOnFunctionError: false,
      StartingPosition: 'TRIM_HORIZON',
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
  });

  it('defines the Glue table the athena engine queries: projected dt, OpenX SerDe, the event columns', () => {
    const tables = Object.values(resourcesOf(controlPlane, 'AWS::Glue::Table'));
    expect(tables).to.have.length(1);
    const input = evaluate(tables[0].Properties?.TableInput) as {
      Name: string;
      PartitionKeys: unknown;
      Parameters: Record<string, string>;
      StorageDescriptor: { Columns: unknown; Location: string; SerdeInfo: unknown };
    };
    expect(input.PartitionKeys).to.deep.equal([{ Name: 'dt', Type: 'string' }]);
    expect(input.StorageDescriptor.Columns).to.deep.equal([
      { Name: 'eventid', Type: 'string' },
      { Name: 'tenantid', Type: 'string' },
      { Name: 'metric', Type: 'string' },
      { Name: 'quantity', Type: 'double' },
      { Name: 'ts', Type: 'string' },
    ]);
    expect(input.StorageDescriptor.SerdeInfo).to.deep.equal({
      SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
      Parameters: { 'ignore.malformed.json': 'true' },
    });
    expect(input.Parameters).to.deep.include({
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy/MM/dd/HH',
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'HOURS',
    });
    expect(input.Parameters['storage.location.template']).to.match(
      /^s3:\/\/ref:MeteringRawLake[0-9A-F]+\/raw\/\$\{dt\}\/$/,
    );
    // The names are ones the athena engine accepts, and its partition filter is the dt format.
    const sql = buildReconcileQuery({
      database: 'saasctl_test',
      table: input.Name,
      from: new Date('2026-11-01T00:00:00Z'),
      to: new Date('2026-11-02T00:00:00Z'),
      lateArrivalHours: 24,
    });
    expect(sql).to.include("dt BETWEEN '2026/10/31/23' AND '2026/11/02/23'");
    controlPlane.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'saasctl-test',
      WorkGroupConfiguration: Match.objectLike({ EnforceWorkGroupConfiguration: true }),
    });
  });

  it('writes /saasctl/<stage>/platform as JSON the CLI parses into PlatformConfig', () => {
    const parameters = Object.values(resourcesOf(controlPlane, 'AWS::SSM::Parameter'));
    expect(parameters).to.have.length(1);
    expect(parameters[0].Properties?.Name).to.equal(platformParameterName('test'));
    const json = String(evaluate(parameters[0].Properties?.Value));
    const config = parsePlatformConfig(json, 'in the synthesized template');
    expect(config).to.deep.include({
      schemaVersion: 1,
      stage: 'test',
      region: 'us-east-1',
      accountId: '123456789012',
    });
    expect(config.tables.controlPlane).to.match(/^ref:ControlPlaneTable[0-9A-F]+$/);
    expect(config.tables.pooled).to.equal('saasctl-test-pooled');
    expect(config.tables.usage).to.match(/^ref:UsageCountersTable[0-9A-F]+$/);
    expect(config.tables.ledger).to.match(/^ref:MarketplaceLedgerTable[0-9A-F]+$/);
    expect(config.userPool.id).to.match(/^ref:IdentityUserPool/);
    expect(config.userPool.clientId).to.match(/^ref:IdentityUserPoolAppClient/);
    expect(config.stateMachines?.onboarding).to.match(/^ref:WorkflowsonboardingStateMachine/);
    expect(config.stateMachines?.offboarding).to.match(/^ref:WorkflowsoffboardingStateMachine/);
    expect(config.tenantRuntimeRoleArn).to.match(/^TenantApiTenantRuntimeRole[0-9A-F]+\.Arn$/);
    expect(config.athena).to.deep.equal({
      workgroup: 'saasctl-test',
      database: 'saasctl_test',
      table: 'raw_events',
    });
    expect(config.rawLakeBucket).to.match(/^ref:MeteringRawLake/);
    expect(config.usageStream).to.match(/^ref:MeteringUsageStream/);
  });

  for (const [name, definition] of [
    ['onboarding', onboardingWorkflow],
    ['offboarding', offboardingWorkflow],
  ] as const) {
    it(`deploys the ${name} state machine exactly as renderAsl renders it, one Lambda per step`, () => {
      const { stacks } = synthesize();
      const deployed = stacks.controlPlane!.workflows[name];
      const machines = resourcesOf(controlPlane, 'AWS::StepFunctions::StateMachine');
      const machine = machines[logicalIdOf(deployed.stateMachine)];
      const actual = JSON.parse(String(evaluate(machine.Properties?.DefinitionString)));
      const expected = renderAsl(definition as typeof onboardingWorkflow, (step) => {
        const fn = deployed.functions.get(step);
        if (!fn) throw new Error(`no function for ${step}`);
        return `${logicalIdOf(fn)}.Arn`;
      });
      expect(actual).to.deep.equal(JSON.parse(JSON.stringify(expected)));
      const arns = new Set([...deployed.functions.values()].map((fn) => `${logicalIdOf(fn)}.Arn`));
      expect(arns.size).to.equal(definition.steps.length + 1);
    });
  }

  it('puts the database in isolated subnets and applies the RLS migrations with a custom resource', () => {
    pool.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      StorageEncrypted: true,
      ServerlessV2ScalingConfiguration: Match.objectLike({ MaxCapacity: 8 }),
    });
    const subnets = Object.values(resourcesOf(pool, 'AWS::EC2::Subnet'));
    expect(subnets.every((s) => s.Properties?.MapPublicIpOnLaunch === false)).to.equal(true);
    expect(Object.keys(resourcesOf(pool, 'AWS::EC2::InternetGateway'))).to.deep.equal([]);
    expect(Object.keys(resourcesOf(pool, 'AWS::EC2::NatGateway'))).to.deep.equal([]);
    pool.hasResourceProperties('Custom::SaasctlRlsMigrations', { versions: Match.stringLikeRegexp('^1:') });
    pool.resourceCountIs('AWS::ApiGatewayV2::Route', 8);
    pool.allResourcesProperties('AWS::ApiGatewayV2::Route', { AuthorizationType: 'CUSTOM' });
  });

  it("gives the sample API's functions only the data writer's reach into the control plane, and no data table", () => {
    const policies = Object.entries(resourcesOf(pool, 'AWS::IAM::Policy')).filter(([id]) =>
      id.startsWith('DocumentsCreate'),
    );
    expect(policies.length, 'createNote and create').to.equal(2);
    for (const [, policy] of policies) {
      const { Statement } = evaluate(policy.Properties?.PolicyDocument) as {
        Statement: { Action: string | string[]; Condition?: unknown }[];
      };
      const dynamo = Statement.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));
      expect(dynamo.map((s) => [s.Action, s.Condition])).to.deep.equal([
        [
          'dynamodb:GetItem',
          {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TENANT#*'] },
            Null: { 'dynamodb:LeadingKeys': 'false' },
          },
        ],
        [
          'dynamodb:BatchWriteItem',
          {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['MIGRATION#*'] },
            Null: { 'dynamodb:LeadingKeys': 'false' },
          },
        ],
      ]);
      expect(JSON.stringify(dynamo)).to.include('table/saasctl-test-control-plane');
    }
  });
});

/** IAM's StringLike: `*` any run of characters, `?` one character. */
function stringLike(pattern: string, value: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(value);
}
