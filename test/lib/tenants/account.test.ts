import {
  CreateAccountCommand,
  DescribeCreateAccountStatusCommand,
  ListAccountsCommand,
  OrganizationsClient,
} from '@aws-sdk/client-organizations';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { ensureTenantAccount, type TenantAccountRequest } from '../../../src/lib/tenants/account.js';
import { TenantCatalog } from '../../../src/lib/tenants/catalog.js';
import type { Tenant } from '../../../src/lib/tenants/model.js';
import { ddb, documentClient, rejectionOf } from '../helpers/aws.js';

const TABLE = 'cp-table';
const NOW = '2026-11-27T10:00:00.000Z';
const CREATED = '2026-11-01T08:00:00.000Z';
const ACTOR = 'local:alice';
const REQUEST_ID = 'car-0123456789abcdef';
const ACCOUNT_ID = '210987654321';

const request: TenantAccountRequest = {
  stage: 'dev',
  tenantId: 'acme',
  email: 'ops@acme.example',
  actor: ACTOR,
};

function tenant(overrides: Partial<Tenant> = {}): Tenant {
  return {
    tenantId: 'acme',
    name: 'Acme Corp',
    tier: 'enterprise',
    isolation: 'silo-account',
    status: 'PROVISIONING',
    region: 'us-east-1',
    adminEmail: 'ops@acme.example',
    version: 1,
    createdAt: CREATED,
    updatedAt: CREATED,
    ...overrides,
  };
}

/** The tenant item as the catalog stores it (see catalog.test.ts). */
function stored(record: Tenant): Record<string, unknown> {
  return {
    PK: `TENANT#${record.tenantId}`,
    SK: 'PROFILE',
    gsi1pk: 'TENANT',
    gsi1sk: record.tenantId,
    entity: 'tenant',
    ...record,
  };
}

/** The one conditional write TenantCatalog.update sends to set `field` on `current`. */
function updateSetting(
  current: Tenant,
  field: 'accountId' | 'accountRequestId',
  value: string,
  action: string,
): Record<string, unknown> {
  const version = current.version + 1;
  return {
    TableName: TABLE,
    Key: { PK: 'TENANT#acme', SK: 'PROFILE' },
    UpdateExpression: 'SET #f0 = :v0, #f1 = :v1, #f2 = :v2, #f3 = :v3',
    ConditionExpression: '#expected = :expected',
    ExpressionAttributeNames: {
      '#expected': 'version',
      '#f0': field,
      '#f1': 'updatedAt',
      '#f2': 'version',
      '#f3': 'lastChange',
    },
    ExpressionAttributeValues: {
      ':expected': current.version,
      ':v0': value,
      ':v1': NOW,
      ':v2': version,
      ':v3': {
        tenantId: 'acme',
        at: NOW,
        actor: ACTOR,
        version,
        action,
        changes: { [field]: { from: current[field], to: value } },
      },
    },
    ReturnValues: 'ALL_OLD',
  };
}

const createAccountInput = {
  Email: 'ops@acme.example',
  AccountName: 'saasctl-dev-acme',
  Tags: [
    { Key: 'tenantId', Value: 'acme' },
    { Key: 'saasctl:stage', Value: 'dev' },
  ],
};

describe('ensureTenantAccount', () => {
  let org: AwsClientStub<OrganizationsClient>;
  let client: OrganizationsClient;
  let catalog: TenantCatalog;

  const updates = () => ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);

  // Created here, not at module level: stubs are process-wide and other spec files stub OrganizationsClient too.
  before(() => {
    org = mockClient(OrganizationsClient);
  });

  after(() => {
    org.restore();
  });

  beforeEach(() => {
    org.reset();
    ddb.reset();
    client = new OrganizationsClient({ region: 'us-east-1' });
    catalog = new TenantCatalog(documentClient(), TABLE, () => new Date(NOW));
    ddb.on(UpdateCommand).resolves({});
    ddb.on(PutCommand).resolves({});
  });

  it('returns the account already on the tenant without calling Organizations or writing', async () => {
    ddb.on(GetCommand).resolves({ Item: stored(tenant({ accountId: ACCOUNT_ID })) });

    expect(await ensureTenantAccount(client, catalog, request)).to.deep.equal({
      accountId: ACCOUNT_ID,
      created: false,
    });
    expect(org.calls()).to.have.length(0);
    expect(updates()).to.have.length(0);
  });

  it('adopts an account of the organization that already has the email, found on a later page', async () => {
    ddb.on(GetCommand).resolves({ Item: stored(tenant()) });
    org
      .on(ListAccountsCommand)
      .resolvesOnce({ Accounts: [{ Id: '111111111111', Email: 'ops@globex.example' }], NextToken: 'page-2' })
      .resolvesOnce({ Accounts: [{ Id: ACCOUNT_ID, Email: 'OPS@Acme.example' }] });

    expect(await ensureTenantAccount(client, catalog, request)).to.deep.equal({
      accountId: ACCOUNT_ID,
      created: false,
    });
    expect(org.commandCalls(ListAccountsCommand).map((c) => c.args[0].input)).to.deep.equal([
      { NextToken: undefined },
      { NextToken: 'page-2' },
    ]);
    expect(org.commandCalls(CreateAccountCommand)).to.have.length(0);
    expect(updates()).to.deep.equal([updateSetting(tenant(), 'accountId', ACCOUNT_ID, 'attach-account')]);
  });

  it('creates the account and stores its request id on the tenant before polling, then reports it in progress', async () => {
    ddb.on(GetCommand).resolves({ Item: stored(tenant()) });
    org.on(ListAccountsCommand).resolves({ Accounts: [{ Id: '111111111111', Email: 'ops@globex.example' }] });
    org.on(CreateAccountCommand).resolves({ CreateAccountStatus: { Id: REQUEST_ID, State: 'IN_PROGRESS' } });
    let storedBeforePolling: unknown[] = [];
    org.on(DescribeCreateAccountStatusCommand).callsFake(() => {
      storedBeforePolling = updates();
      return { CreateAccountStatus: { Id: REQUEST_ID, State: 'IN_PROGRESS' } };
    });

    let failure: unknown;
    await ensureTenantAccount(client, catalog, request).catch((err: unknown) => (failure = err));

    expect(failure).to.be.instanceOf(Error);
    expect(failure).to.have.property('name', 'AccountCreationInProgress');
    expect(failure).to.have.property('message', `Account creation ${REQUEST_ID} is IN_PROGRESS.`);
    expect(org.commandCalls(CreateAccountCommand).map((c) => c.args[0].input)).to.deep.equal([
      createAccountInput,
    ]);
    const requestStored = updateSetting(tenant(), 'accountRequestId', REQUEST_ID, 'request-account');
    expect(storedBeforePolling).to.deep.equal([requestStored]);
    expect(org.commandCalls(DescribeCreateAccountStatusCommand).map((c) => c.args[0].input)).to.deep.equal([
      { CreateAccountRequestId: REQUEST_ID },
    ]);
    expect(updates()).to.deep.equal([requestStored]);
  });

  it('polls the stored request instead of creating a second account, and stores the account once it succeeded', async () => {
    const current = tenant({ accountRequestId: REQUEST_ID, version: 2 });
    ddb.on(GetCommand).resolves({ Item: stored(current) });
    org
      .on(DescribeCreateAccountStatusCommand)
      .resolves({ CreateAccountStatus: { Id: REQUEST_ID, State: 'SUCCEEDED', AccountId: ACCOUNT_ID } });

    expect(await ensureTenantAccount(client, catalog, request)).to.deep.equal({
      accountId: ACCOUNT_ID,
      created: true,
    });
    expect(org.commandCalls(DescribeCreateAccountStatusCommand).map((c) => c.args[0].input)).to.deep.equal([
      { CreateAccountRequestId: REQUEST_ID },
    ]);
    expect(org.commandCalls(CreateAccountCommand)).to.have.length(0);
    expect(org.commandCalls(ListAccountsCommand)).to.have.length(0);
    expect(updates()).to.deep.equal([updateSetting(current, 'accountId', ACCOUNT_ID, 'attach-account')]);
  });

  it('keeps reporting a stored request in progress without creating another account', async () => {
    ddb.on(GetCommand).resolves({ Item: stored(tenant({ accountRequestId: REQUEST_ID, version: 2 })) });
    org
      .on(DescribeCreateAccountStatusCommand)
      .resolves({ CreateAccountStatus: { Id: REQUEST_ID, State: 'IN_PROGRESS' } });

    let failure: unknown;
    await ensureTenantAccount(client, catalog, request).catch((err: unknown) => (failure = err));

    expect(failure).to.have.property('name', 'AccountCreationInProgress');
    expect(org.commandCalls(CreateAccountCommand)).to.have.length(0);
    expect(updates()).to.have.length(0);
  });

  it('adopts the listed account when creation failed with EMAIL_ALREADY_EXISTS', async () => {
    const current = tenant({ accountRequestId: REQUEST_ID, version: 2 });
    ddb.on(GetCommand).resolves({ Item: stored(current) });
    org.on(DescribeCreateAccountStatusCommand).resolves({
      CreateAccountStatus: { Id: REQUEST_ID, State: 'FAILED', FailureReason: 'EMAIL_ALREADY_EXISTS' },
    });
    org.on(ListAccountsCommand).resolves({ Accounts: [{ Id: ACCOUNT_ID, Email: 'ops@acme.example' }] });

    expect(await ensureTenantAccount(client, catalog, request)).to.deep.equal({
      accountId: ACCOUNT_ID,
      created: false,
    });
    expect(org.commandCalls(ListAccountsCommand).map((c) => c.args[0].input)).to.deep.equal([
      { NextToken: undefined },
    ]);
    expect(updates()).to.deep.equal([updateSetting(current, 'accountId', ACCOUNT_ID, 'attach-account')]);
  });

  it('fails with ACCOUNT_CREATION_FAILED when the email is taken by an account outside the organization', async () => {
    ddb.on(GetCommand).resolves({ Item: stored(tenant({ accountRequestId: REQUEST_ID, version: 2 })) });
    org.on(DescribeCreateAccountStatusCommand).resolves({
      CreateAccountStatus: { Id: REQUEST_ID, State: 'FAILED', FailureReason: 'EMAIL_ALREADY_EXISTS' },
    });
    org.on(ListAccountsCommand).resolves({ Accounts: [] });

    const err = await rejectionOf(ensureTenantAccount(client, catalog, request));

    expect(err.code).to.equal('ACCOUNT_CREATION_FAILED');
    expect(updates()).to.have.length(0);
  });

  it('fails with ACCOUNT_CREATION_FAILED naming the reason of any other failure, storing no account', async () => {
    ddb.on(GetCommand).resolves({ Item: stored(tenant({ accountRequestId: REQUEST_ID, version: 2 })) });
    org.on(DescribeCreateAccountStatusCommand).resolves({
      CreateAccountStatus: { Id: REQUEST_ID, State: 'FAILED', FailureReason: 'ACCOUNT_LIMIT_EXCEEDED' },
    });

    const err = await rejectionOf(ensureTenantAccount(client, catalog, request));

    expect(err.code).to.equal('ACCOUNT_CREATION_FAILED');
    expect(err.exitCode).to.equal(4);
    expect(err.message).to.equal(
      'Organizations could not create the account of tenant "acme": ACCOUNT_LIMIT_EXCEEDED (request car-0123456789abcdef).',
    );
    expect(org.commandCalls(ListAccountsCommand)).to.have.length(0);
    expect(updates()).to.have.length(0);
  });

  it('refuses a tenant missing from the catalog with exit 3 before calling Organizations', async () => {
    ddb.on(GetCommand).resolves({});

    const err = await rejectionOf(ensureTenantAccount(client, catalog, request));

    expect(err.code).to.equal('TENANT_NOT_FOUND');
    expect(err.exitCode).to.equal(3);
    expect(org.calls()).to.have.length(0);
  });
});
