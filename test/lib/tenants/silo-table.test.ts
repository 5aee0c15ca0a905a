import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateContinuousBackupsCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import {
  deleteTenantTable,
  ensureTenantTable,
  tenantTableName,
  type TenantTableRequest,
} from '../../../src/lib/tenants/silo-table.js';
import { awsError } from '../helpers/aws.js';

const TABLE = 'dev-tenant-acme';
const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const request: TenantTableRequest = { stage: 'dev', tenantId: 'acme', keyArn: KEY_ARN };

const pitrInput = {
  TableName: TABLE,
  PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
};

const createInput = {
  TableName: TABLE,
  AttributeDefinitions: [
    { AttributeName: 'PK', AttributeType: 'S' },
    { AttributeName: 'SK', AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: 'PK', KeyType: 'HASH' },
    { AttributeName: 'SK', KeyType: 'RANGE' },
  ],
  BillingMode: 'PAY_PER_REQUEST',
  SSESpecification: { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: KEY_ARN },
  Tags: [
    { Key: 'tenantId', Value: 'acme' },
    { Key: 'saasctl:stage', Value: 'dev' },
  ],
};

describe('silo tenant table', () => {
  let dynamodb: AwsClientStub<DynamoDBClient>;
  let client: DynamoDBClient;

  /** The commands sent, by class name, in the order they were sent. */
  const sent = (): string[] => dynamodb.calls().map((c) => (c.args[0] as object).constructor.name);

  // Created here, not at module level: stubs are process-wide and other spec files stub DynamoDBClient too.
  before(() => {
    dynamodb = mockClient(DynamoDBClient);
  });

  after(() => {
    dynamodb.restore();
  });

  beforeEach(() => {
    dynamodb.reset();
    client = new DynamoDBClient({ region: 'us-east-1' });
  });

  it('names the table <stage>-tenant-<id>', () => {
    expect(tenantTableName('dev', 'acme')).to.equal(TABLE);
  });

  describe('ensureTenantTable', () => {
    it('creates nothing when the table exists but still turns point-in-time recovery on', async () => {
      dynamodb.on(DescribeTableCommand).resolves({ Table: { TableName: TABLE, TableStatus: 'ACTIVE' } });
      dynamodb.on(UpdateContinuousBackupsCommand).resolves({});

      expect(await ensureTenantTable(client, request)).to.deep.equal({
        tableName: TABLE,
        created: false,
        pointInTimeRecovery: true,
      });
      expect(dynamodb.commandCalls(DescribeTableCommand).map((c) => c.args[0].input)).to.deep.equal([
        { TableName: TABLE },
      ]);
      expect(dynamodb.commandCalls(CreateTableCommand)).to.have.length(0);
      expect(dynamodb.commandCalls(UpdateContinuousBackupsCommand).map((c) => c.args[0].input)).to.deep.equal(
        [pitrInput],
      );
    });

    it('creates a missing table with PK/SK, on demand, encrypted with the tenant key and tagged, waits for ACTIVE, then turns PITR on', async () => {
      dynamodb
        .on(DescribeTableCommand)
        .rejectsOnce(awsError('ResourceNotFoundException'))
        .resolvesOnce({ Table: { TableName: TABLE, TableStatus: 'CREATING' } })
        .resolves({ Table: { TableName: TABLE, TableStatus: 'ACTIVE' } });
      dynamodb.on(CreateTableCommand).resolves({});
      dynamodb.on(UpdateContinuousBackupsCommand).resolves({});

      expect(await ensureTenantTable(client, request)).to.deep.equal({
        tableName: TABLE,
        created: true,
        pointInTimeRecovery: true,
      });
      expect(dynamodb.commandCalls(CreateTableCommand).map((c) => c.args[0].input)).to.deep.equal([
        createInput,
      ]);
      expect(dynamodb.commandCalls(DescribeTableCommand).map((c) => c.args[0].input)).to.deep.equal([
        { TableName: TABLE },
        { TableName: TABLE },
        { TableName: TABLE },
      ]);
      expect(dynamodb.commandCalls(UpdateContinuousBackupsCommand).map((c) => c.args[0].input)).to.deep.equal(
        [pitrInput],
      );
      // PITR is asked for only once the table is ACTIVE.
      expect(sent()).to.deep.equal([
        'DescribeTableCommand',
        'CreateTableCommand',
        'DescribeTableCommand',
        'DescribeTableCommand',
        'UpdateContinuousBackupsCommand',
      ]);
    });

    it('reports point-in-time recovery off where UpdateContinuousBackups is an unknown operation', async () => {
      dynamodb
        .on(DescribeTableCommand)
        .rejectsOnce(awsError('ResourceNotFoundException'))
        .resolves({ Table: { TableName: TABLE, TableStatus: 'ACTIVE' } });
      dynamodb.on(CreateTableCommand).resolves({});
      dynamodb.on(UpdateContinuousBackupsCommand).rejects(awsError('UnknownOperationException'));

      expect(await ensureTenantTable(client, request)).to.deep.equal({
        tableName: TABLE,
        created: true,
        pointInTimeRecovery: false,
      });
      expect(dynamodb.commandCalls(UpdateContinuousBackupsCommand)).to.have.length(1);
    });

    it('passes on any other UpdateContinuousBackups failure', async () => {
      dynamodb.on(DescribeTableCommand).resolves({ Table: { TableName: TABLE, TableStatus: 'ACTIVE' } });
      dynamodb.on(UpdateContinuousBackupsCommand).rejects(awsError('AccessDeniedException'));

      let failure: unknown;
      await ensureTenantTable(client, request).catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'AccessDeniedException');
    });

    it('tolerates losing the creation race to a concurrent run: created false, still waits and turns PITR on', async () => {
      dynamodb
        .on(DescribeTableCommand)
        .rejectsOnce(awsError('ResourceNotFoundException'))
        .resolves({ Table: { TableName: TABLE, TableStatus: 'ACTIVE' } });
      dynamodb.on(CreateTableCommand).rejects(awsError('ResourceInUseException'));
      dynamodb.on(UpdateContinuousBackupsCommand).resolves({});

      expect(await ensureTenantTable(client, request)).to.deep.equal({
        tableName: TABLE,
        created: false,
        pointInTimeRecovery: true,
      });
      expect(dynamodb.commandCalls(CreateTableCommand)).to.have.length(1);
      expect(dynamodb.commandCalls(DescribeTableCommand)).to.have.length(2);
      expect(dynamodb.commandCalls(UpdateContinuousBackupsCommand).map((c) => c.args[0].input)).to.deep.equal(
        [pitrInput],
      );
    });

    it('passes on a DescribeTable failure other than a missing table without creating', async () => {
      dynamodb.on(DescribeTableCommand).rejects(awsError('AccessDeniedException'));

      let failure: unknown;
      await ensureTenantTable(client, request).catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'AccessDeniedException');
      expect(dynamodb.commandCalls(CreateTableCommand)).to.have.length(0);
    });
  });

  describe('deleteTenantTable', () => {
    it('deletes the tenant table and reports true', async () => {
      dynamodb.on(DeleteTableCommand).resolves({});

      expect(await deleteTenantTable(client, 'dev', 'acme')).to.equal(true);
      expect(dynamodb.commandCalls(DeleteTableCommand).map((c) => c.args[0].input)).to.deep.equal([
        { TableName: TABLE },
      ]);
    });

    it('reports false when the table is already gone', async () => {
      dynamodb.on(DeleteTableCommand).rejects(awsError('ResourceNotFoundException'));

      expect(await deleteTenantTable(client, 'dev', 'acme')).to.equal(false);
    });

    it('passes on any other delete failure', async () => {
      dynamodb.on(DeleteTableCommand).rejects(awsError('ResourceInUseException'));

      let failure: unknown;
      await deleteTenantTable(client, 'dev', 'acme').catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'ResourceInUseException');
    });
  });
});
