import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminGetUserCommand,
  CreateGroupCommand,
  GetGroupCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { GetExecutionHistoryCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import type { Reporter, StepHandle } from '../../../src/lib/cli/reporter.js';
import { TenantCatalog } from '../../../src/lib/tenants/catalog.js';
import type { Tenant } from '../../../src/lib/tenants/model.js';
import {
  onboardTenant,
  validateOnboardRequest,
  type OnboardDependencies,
  type OnboardRequest,
} from '../../../src/lib/tenants/onboarding.js';
import { DEFAULT_TIERS, TierCatalog, type Tier } from '../../../src/lib/tenants/tiers.js';
import { awsError, cognito, cognitoClient, ddb, documentClient, rejectionOf } from '../helpers/aws.js';

const TABLE = 'cp-table';
const POOL = 'us-east-1_Pool1';
const NOW = '2026-11-27T10:00:00.000Z';
const ACTOR = 'local:alice';

/** Records every reporter event in order, as `step <title>` then `done|skipped|failed <detail>`. */
class RecordingReporter implements Reporter {
  readonly events: string[] = [];
  info(message: string): void {
    this.events.push(`info ${message}`);
  }
  warn(message: string): void {
    this.events.push(`warn ${message}`);
  }
  step(title: string): StepHandle {
    this.events.push(`step ${title}`);
    const end = (kind: string) => (detail?: string) => {
      this.events.push(detail === undefined ? kind : `${kind} ${detail}`);
    };
    return { done: end('done'), skipped: end('skipped'), failed: end('failed') };
  }
}

const request: OnboardRequest = {
  tenantId: 'acme',
  tier: 'pro',
  name: 'Acme Corp',
  adminEmail: 'ops@acme.example',
  region: 'us-east-1',
};

function tier(name: string): Tier {
  const found = DEFAULT_TIERS.find((t) => t.name === name);
  if (!found) throw new Error(`no default tier ${name}`);
  return found;
}

function storedTier(t: Tier): Record<string, unknown> {
  return { PK: `TIER#${t.name}`, SK: 'TIER', gsi1pk: 'TIER', gsi1sk: t.name, entity: 'tier', ...t };
}

function tenant(overrides: Partial<Tenant> = {}): Tenant {
  return {
    tenantId: 'acme',
    name: 'Acme Corp',
    tier: 'pro',
    isolation: 'pool',
    status: 'PROVISIONING',
    region: 'us-east-1',
    adminEmail: 'ops@acme.example',
    version: 1,
    createdAt: NOW,
    updatedAt: NOW,
    ...overrides,
  };
}

function storedTenant(t: Tenant): Record<string, unknown> {
  return {
    PK: `TENANT#${t.tenantId}`,
    SK: 'PROFILE',
    gsi1pk: 'TENANT',
    gsi1sk: t.tenantId,
    entity: 'tenant',
    ...t,
    lastChange: {
      tenantId: t.tenantId,
      at: NOW,
      action: 'create',
      actor: ACTOR,
      reason: 'onboard',
      version: 1,
      toStatus: 'PROVISIONING',
    },
  };
}

function mockTier(t: Tier): void {
  ddb.on(GetCommand, { Key: { PK: `TIER#${t.name}`, SK: 'TIER' } }).resolves({ Item: storedTier(t) });
}

function mockTenantRecord(t: Tenant | undefined): void {
  ddb
    .on(GetCommand, { Key: { PK: 'TENANT#acme', SK: 'PROFILE' } })
    .resolves(t ? { Item: storedTenant(t) } : {});
}

/** Every call to either client, in the order they were sent, as `<service> <Command> <what>`. */
function callSequence(): string[] {
  const describe = (input: Record<string, unknown>): string => {
    const key = (input.Key ?? input.Item) as Record<string, unknown> | undefined;
    if (key) return `${String(key.PK)} ${String(key.SK)}`;
    return String(input.GroupName ?? input.Username ?? input.KeyConditionExpression ?? '');
  };
  const calls = [
    ...ddb.calls().map((call) => ({ call, service: 'dynamodb' })),
    ...cognito.calls().map((call) => ({ call, service: 'cognito' })),
  ];
  calls.sort((a, b) => (a.call.calledBefore(b.call) ? -1 : 1));
  return calls.map(({ call, service }) => {
    const command = call.args[0];
    return `${service} ${command.constructor.name} ${describe(command.input as Record<string, unknown>)}`;
  });
}

describe('onboardTenant', () => {
  let reporter: RecordingReporter;
  let cognitoBuilt: number;
  let actorAsked: number;
  let deps: OnboardDependencies;
  let progress_: string[];

  beforeEach(() => {
    ddb.reset();
    cognito.reset();
    reporter = new RecordingReporter();
    cognitoBuilt = 0;
    actorAsked = 0;
    const documents = documentClient();
    const identity: CognitoIdentityProviderClient = cognitoClient();
    deps = {
      catalog: new TenantCatalog(documents, TABLE, () => new Date(NOW)),
      tiers: new TierCatalog(documents, TABLE),
      cognito: () => {
        cognitoBuilt++;
        return identity;
      },
      userPoolId: POOL,
      actor: async () => {
        actorAsked++;
        return ACTOR;
      },
      suppressInvitation: true,
      stage: 'test',
      sink: {
        record: async (tenantId, progress) =>
          void progress_.push(`${tenantId} ${progress.status} ${progress.step ?? ''}`.trim()),
      },
      kms: () => expect.fail('a pooled tenant needs no KMS client'),
      dynamodb: () => expect.fail('a pooled tenant needs no table'),
      organizations: () => expect.fail('a pooled tenant needs no account'),
      keyPolicy: () => expect.fail('a pooled tenant needs no key policy'),
    };
    progress_ = [];
  });

  function expectNothingSent(): void {
    expect(ddb.calls(), 'DynamoDB calls').to.have.length(0);
    expect(cognito.calls(), 'Cognito calls').to.have.length(0);
    expect(cognitoBuilt, 'Cognito client built').to.equal(0);
    expect(actorAsked, 'actor resolved').to.equal(0);
  }

  it('records, creates group and admin user, then activates, in that order', async () => {
    mockTier(tier('pro'));
    ddb.on(PutCommand).resolves({});
    const activated = tenant({ status: 'ACTIVE', statusReason: 'onboarding complete', version: 2 });
    ddb
      .on(GetCommand, { Key: { PK: 'TENANT#acme', SK: 'PROFILE' } })
      .resolvesOnce({ Item: storedTenant(tenant()) })
      .resolves({ Item: storedTenant(activated) });
    ddb.on(UpdateCommand).resolves({ Attributes: storedTenant(tenant()) });
    cognito.on(GetGroupCommand).rejects(awsError('ResourceNotFoundException'));
    cognito.on(CreateGroupCommand).resolves({});
    cognito.on(AdminGetUserCommand).rejects(awsError('UserNotFoundException'));
    cognito.on(AdminCreateUserCommand).resolves({});
    cognito.on(AdminAddUserToGroupCommand).resolves({});

    const result = await onboardTenant(deps, request, reporter);

    expect(callSequence()).to.deep.equal([
      'dynamodb GetCommand TIER#pro TIER',
      'dynamodb PutCommand TENANT#acme PROFILE',
      `dynamodb PutCommand TENANT#acme AUDIT#${NOW}#00000001`,
      'cognito GetGroupCommand tenant-acme',
      'cognito CreateGroupCommand tenant-acme',
      'cognito AdminGetUserCommand ops@acme.example',
      'cognito AdminCreateUserCommand ops@acme.example',
      'cognito AdminAddUserToGroupCommand tenant-acme',
      'dynamodb GetCommand TENANT#acme PROFILE',
      'dynamodb UpdateCommand TENANT#acme PROFILE',
      `dynamodb PutCommand TENANT#acme AUDIT#${NOW}#00000001`,
      `dynamodb PutCommand TENANT#acme AUDIT#${NOW}#00000002`,
      'dynamodb GetCommand TENANT#acme PROFILE',
    ]);
    expect(result).to.deep.equal({
      tenant: tenant({ status: 'ACTIVE', statusReason: 'onboarding complete', version: 2 }),
      changed: true,
      steps: [
        { step: 'CreateTenantRecord', outcome: 'created' },
        { step: 'CreateTenantGroup', outcome: 'created' },
        { step: 'CreateAdminUser', outcome: 'created' },
        { step: 'ActivateTenant', outcome: 'created' },
      ],
    });
    expect(reporter.events).to.deep.equal([
      'step tenant record acme',
      'done PROVISIONING',
      'step Cognito group tenant-acme',
      'done',
      'step admin user ops@acme.example',
      'done',
      'step activate',
      'done ACTIVE',
    ]);
  });

  it('stores the normalised request with the isolation of its tier and claims for the admin user', async () => {
    mockTier(tier('business'));
    ddb.on(PutCommand).resolves({});
    mockTenantRecord(tenant({ tier: 'business', isolation: 'pool-dedicated-table', planPrice: 750 }));
    ddb.on(UpdateCommand).resolves({});
    cognito.on(GetGroupCommand).rejects(awsError('ResourceNotFoundException'));
    cognito.on(AdminGetUserCommand).rejects(awsError('UserNotFoundException'));

    await onboardTenant(
      deps,
      { ...request, tier: 'business', name: '  Acme Corp ', adminEmail: 'Ops@Acme.Example', planPrice: 750 },
      reporter,
    );

    const record = ddb.commandCalls(PutCommand)[0].args[0].input;
    expect(record.ConditionExpression).to.equal('attribute_not_exists(PK)');
    expect(record.Item).to.include({
      tenantId: 'acme',
      name: 'Acme Corp',
      tier: 'business',
      isolation: 'pool-dedicated-table',
      status: 'PROVISIONING',
      region: 'us-east-1',
      adminEmail: 'ops@acme.example',
      planPrice: 750,
    });
    expect(record.Item?.lastChange).to.include({ actor: ACTOR, reason: 'onboard', action: 'create' });
    expect(cognito.commandCalls(AdminCreateUserCommand)[0].args[0].input).to.deep.equal({
      UserPoolId: POOL,
      Username: 'ops@acme.example',
      UserAttributes: [
        { Name: 'email', Value: 'ops@acme.example' },
        { Name: 'email_verified', Value: 'true' },
        { Name: 'custom:tenantId', Value: 'acme' },
        { Name: 'custom:tier', Value: 'business' },
      ],
      DesiredDeliveryMediums: ['EMAIL'],
      MessageAction: 'SUPPRESS',
    });
    const values = ddb.commandCalls(UpdateCommand)[0].args[0].input.ExpressionAttributeValues ?? {};
    expect(values[':v0']).to.equal('ACTIVE');
    expect(values[':v1']).to.equal('onboarding complete');
    expect(values[':v4']).to.include({ action: 'activate', actor: ACTOR, fromStatus: 'PROVISIONING' });
  });

  const invalidInputs: { why: string; change: Partial<OnboardRequest>; code: string }[] = [
    { why: 'an invalid tenant id', change: { tenantId: 'Acme_Corp' }, code: 'INVALID_TENANT_ID' },
    { why: 'a reserved tenant id', change: { tenantId: 'admin' }, code: 'INVALID_TENANT_ID' },
    { why: 'an invalid admin email', change: { adminEmail: 'ops@acme' }, code: 'INVALID_EMAIL' },
    { why: 'a blank display name', change: { name: '   ' }, code: 'INVALID_NAME' },
    { why: 'an invalid region', change: { region: 'us-east' }, code: 'INVALID_REGION' },
    { why: 'a negative plan price', change: { planPrice: -5 }, code: 'INVALID_PLAN_PRICE' },
  ];
  for (const { why, change, code } of invalidInputs) {
    it(`refuses ${why} with exit 2 before any AWS call`, async () => {
      const err = await rejectionOf(onboardTenant(deps, { ...request, ...change }, reporter));

      expect(err.code).to.equal(code);
      expect(err.exitCode).to.equal(2);
      expectNothingSent();
      expect(reporter.events).to.deep.equal([]);
    });
  }

  it('refuses an unknown tier with exit 2 before writing anything', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: DEFAULT_TIERS.map(storedTier) });

    const err = await rejectionOf(onboardTenant(deps, { ...request, tier: 'platinum' }, reporter));

    expect(err.code).to.equal('UNKNOWN_TIER');
    expect(err.exitCode).to.equal(2);
    expect(err.message).to.include('starter, pro, business, enterprise, enterprise-account');
    expect(ddb.commandCalls(PutCommand)).to.have.length(0);
    expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);
    expect(cognito.calls()).to.have.length(0);
    expect(cognitoBuilt).to.equal(0);
  });

  it('runs the silo steps for an enterprise tenant and records progress on the tenant', async () => {
    mockTier(tier('enterprise'));
    ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));
    mockTenantRecord(tenant({ tier: 'enterprise', isolation: 'silo', status: 'PROVISIONING' }));
    const siloDeps: OnboardDependencies = {
      ...deps,
      kms: () => {
        throw awsError('InjectedKmsOutage');
      },
    };

    const err = await onboardTenant(siloDeps, { ...request, tier: 'enterprise' }, reporter).catch(
      (e: unknown) => e,
    );

    expect((err as Error).name).to.equal('InjectedKmsOutage');
    expect(progress_).to.deep.equal([
      'acme RUNNING CreateTenantRecord',
      'acme RUNNING CreateTenantKey',
      'acme FAILED CreateTenantKey',
    ]);
    expect(cognitoBuilt, 'identity steps come after the silo resources').to.equal(0);
  });

  it('refuses an existing tenant on another tier with exit 4 TENANT_EXISTS and changes nothing', async () => {
    mockTier(tier('pro'));
    ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));
    mockTenantRecord(tenant({ tier: 'starter', status: 'ACTIVE', version: 2 }));

    const err = await rejectionOf(onboardTenant(deps, request, reporter));

    expect(err.code).to.equal('TENANT_EXISTS');
    expect(err.exitCode).to.equal(4);
    expect(err.message).to.equal('Tenant "acme" already exists and differs: its tier is starter, not pro.');
    expect(err.details).to.deep.equal({ differences: ['tier is starter, not pro'] });
    // The one record write is conditional and was refused; nothing else is sent.
    expect(callSequence()).to.deep.equal([
      'dynamodb GetCommand TIER#pro TIER',
      'dynamodb PutCommand TENANT#acme PROFILE',
      'dynamodb GetCommand TENANT#acme PROFILE',
    ]);
    expect(cognitoBuilt).to.equal(0);
  });

  it('treats another plan price for an existing tenant as a difference, not a silent no-op', async () => {
    mockTier(tier('pro'));
    ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));
    mockTenantRecord(tenant({}));

    const err = await rejectionOf(onboardTenant(deps, { ...request, planPrice: 1900 }, reporter));

    expect(err.code).to.equal('TENANT_EXISTS');
    expect(err.details).to.deep.equal({ differences: ['plan price is the tier price, not 1900'] });
    expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);
  });

  it('lists every difference of an existing tenant', async () => {
    mockTier(tier('pro'));
    ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));
    mockTenantRecord(tenant({ name: 'Acme', adminEmail: 'it@acme.example', region: 'eu-west-1' }));

    const err = await rejectionOf(onboardTenant(deps, request, reporter));

    expect(err.code).to.equal('TENANT_EXISTS');
    expect(err.details).to.deep.equal({
      differences: [
        'name is "Acme", not "Acme Corp"',
        'admin email is it@acme.example, not ops@acme.example',
        'region is eu-west-1, not us-east-1',
      ],
    });
  });

  it('reports changed false and creates nothing when the tenant is already fully onboarded', async () => {
    const active = tenant({ status: 'ACTIVE', version: 2, statusReason: 'onboarding complete' });
    mockTier(tier('pro'));
    ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));
    mockTenantRecord(active);
    cognito.on(GetGroupCommand).resolves({ Group: { GroupName: 'tenant-acme', UserPoolId: POOL } });
    cognito.on(AdminGetUserCommand).resolves({
      Username: 'ops@acme.example',
      UserAttributes: [{ Name: 'custom:tenantId', Value: 'acme' }],
    });
    cognito.on(AdminAddUserToGroupCommand).resolves({});

    const result = await onboardTenant(deps, request, reporter);

    expect(result).to.deep.equal({
      tenant: active,
      changed: false,
      steps: [
        { step: 'CreateTenantRecord', outcome: 'exists' },
        { step: 'CreateTenantGroup', outcome: 'exists' },
        { step: 'CreateAdminUser', outcome: 'exists' },
        { step: 'ActivateTenant', outcome: 'exists' },
      ],
    });
    expect(callSequence()).to.deep.equal([
      'dynamodb GetCommand TIER#pro TIER',
      'dynamodb PutCommand TENANT#acme PROFILE',
      'dynamodb GetCommand TENANT#acme PROFILE',
      'cognito GetGroupCommand tenant-acme',
      'cognito AdminGetUserCommand ops@acme.example',
      'cognito AdminAddUserToGroupCommand tenant-acme',
      'dynamodb GetCommand TENANT#acme PROFILE',
      'dynamodb GetCommand TENANT#acme PROFILE',
    ]);
    expect(reporter.events).to.deep.equal([
      'step tenant record acme',
      'skipped exists, ACTIVE',
      'step Cognito group tenant-acme',
      'skipped',
      'step admin user ops@acme.example',
      'skipped',
      'step activate',
      'skipped already ACTIVE',
    ]);
  });

  it('resumes a tenant left in PROVISIONING and finishes the missing steps', async () => {
    mockTier(tier('pro'));
    ddb
      .on(PutCommand, { ConditionExpression: 'attribute_not_exists(PK)' })
      .rejects(awsError('ConditionalCheckFailedException'));
    mockTenantRecord(tenant());
    ddb.on(UpdateCommand).resolves({});
    cognito.on(GetGroupCommand).resolves({ Group: { GroupName: 'tenant-acme' } });
    cognito.on(AdminGetUserCommand).rejects(awsError('UserNotFoundException'));

    const result = await onboardTenant(deps, request, reporter);

    expect(result.changed).to.equal(true);
    expect(ddb.commandCalls(UpdateCommand)[0].args[0].input.ExpressionAttributeValues?.[':v0']).to.equal(
      'ACTIVE',
    );
    expect(result.steps).to.deep.equal([
      { step: 'CreateTenantRecord', outcome: 'exists' },
      { step: 'CreateTenantGroup', outcome: 'exists' },
      { step: 'CreateAdminUser', outcome: 'created' },
      { step: 'ActivateTenant', outcome: 'created' },
    ]);
    expect(cognito.commandCalls(CreateGroupCommand)).to.have.length(0);
    expect(cognito.commandCalls(AdminCreateUserCommand)).to.have.length(1);
    expect(ddb.commandCalls(UpdateCommand)).to.have.length(1);
  });

  it('refuses to resume a SUSPENDED tenant with exit 4 and points to tenant resume', async () => {
    mockTier(tier('pro'));
    ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));
    mockTenantRecord(tenant({ status: 'SUSPENDED', version: 3 }));

    const err = await rejectionOf(onboardTenant(deps, request, reporter));

    expect(err.code).to.equal('TENANT_NOT_ONBOARDABLE');
    expect(err.exitCode).to.equal(4);
    expect(err.actions).to.deep.equal(['Resume it with `saasctl tenant resume`.']);
    expect(reporter.events).to.deep.equal(['step tenant record acme', 'failed TENANT_NOT_ONBOARDABLE']);
    expect(cognitoBuilt).to.equal(0);
    expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);
  });

  it('stops before activating when the admin email belongs to another tenant', async () => {
    mockTier(tier('pro'));
    ddb.on(PutCommand).resolves({});
    cognito.on(GetGroupCommand).resolves({ Group: { GroupName: 'tenant-acme' } });
    cognito.on(AdminGetUserCommand).resolves({
      Username: 'ops@acme.example',
      UserAttributes: [{ Name: 'custom:tenantId', Value: 'globex' }],
    });

    const err = await rejectionOf(onboardTenant(deps, request, reporter));

    expect(err.code).to.equal('ADMIN_EMAIL_TAKEN');
    expect(err.exitCode).to.equal(4);
    expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);
    expect(cognito.commandCalls(AdminAddUserToGroupCommand)).to.have.length(0);
  });
});

describe('onboardTenant on the aws target: dedicated compute', () => {
  const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:saasctl-test-onboarding';
  let sfn: AwsClientStub<SFNClient>;
  let deployed: string[];

  before(() => {
    sfn = mockClient(SFNClient);
  });
  after(() => sfn.restore());
  beforeEach(() => {
    ddb.reset();
    sfn.reset();
    deployed = [];
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${STATE_MACHINE}:x` });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [{ id: 2, timestamp: new Date(0), type: 'ExecutionSucceeded' }],
    });
  });

  const awsDeps = (): OnboardDependencies => {
    const documents = documentClient();
    return {
      catalog: new TenantCatalog(documents, TABLE, () => new Date(NOW)),
      tiers: new TierCatalog(documents, TABLE),
      cognito: () => expect.fail('the state machine does the identity steps'),
      kms: () => expect.fail('the state machine makes the key'),
      dynamodb: () => expect.fail('the state machine makes the table'),
      organizations: () => expect.fail('the state machine makes the account'),
      keyPolicy: () => expect.fail('the state machine writes the key policy'),
      userPoolId: POOL,
      actor: async () => ACTOR,
      suppressInvitation: false,
      stage: 'test',
      sink: { record: async () => undefined },
      stepFunctions: {
        client: () => new SFNClient({ region: 'us-east-1' }),
        stateMachineArn: STATE_MACHINE,
        wait: true,
        follow: { sleep: async () => undefined },
      },
      deploySilo: async (t) => {
        deployed.push(`${t.tenantId} ${t.isolation} ${t.keyArn ?? ''}`);
        return { tenantId: t.tenantId, stackName: `saasctl-test-silo-${t.tenantId}`, outputs: {} };
      },
    };
  };

  it("deploys an ACTIVE silo tenant's stack after the state machine succeeds, and returns it", async () => {
    const keyArn = 'arn:aws:kms:us-east-1:123456789012:key/k-1';
    mockTier(tier('enterprise'));
    mockTenantRecord(tenant({ tier: 'enterprise', isolation: 'silo', status: 'ACTIVE', keyArn }));
    const result = await onboardTenant(
      awsDeps(),
      { ...request, tier: 'enterprise' },
      new RecordingReporter(),
    );
    expect(deployed).to.deep.equal([`acme silo ${keyArn}`]);
    expect(result.siloStack).to.deep.equal({
      tenantId: 'acme',
      stackName: 'saasctl-test-silo-acme',
      outputs: {},
    });
  });

  it('deploys nothing for a pooled tier', async () => {
    mockTier(tier('pro'));
    mockTenantRecord(tenant({ status: 'ACTIVE' }));
    const result = await onboardTenant(awsDeps(), request, new RecordingReporter());
    expect(deployed).to.deep.equal([]);
    expect(result).to.not.have.property('siloStack');
  });
});

describe('validateOnboardRequest', () => {
  it('returns the request normalised: trimmed name, lowercased email', () => {
    expect(
      validateOnboardRequest({
        ...request,
        name: ' Acme Corp ',
        adminEmail: 'OPS@acme.example',
        planPrice: 0,
      }),
    ).to.deep.equal({ ...request, planPrice: 0 });
  });

  it('leaves out an absent plan price', () => {
    expect(validateOnboardRequest(request)).not.to.have.property('planPrice');
  });
});
