import {
  DescribeKeyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  type KeyState,
} from '@aws-sdk/client-kms';
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { localPlatformConfig } from '../../../src/lib/platform/config.js';
import { auditSessionPolicies, neighbourIds } from '../../../src/lib/runtime/audit/policies.js';
import { auditPooledKeys, pooledKeyProblem } from '../../../src/lib/runtime/audit/pooled-keys.js';
import { auditPostgres, type SqlClient } from '../../../src/lib/runtime/audit/postgres.js';
import { auditSiloKeys } from '../../../src/lib/runtime/audit/silo-keys.js';
import type { Tenant, TenantStatus } from '../../../src/lib/tenants/model.js';
import { DEFAULT_TIERS } from '../../../src/lib/tenants/tiers.js';
import { awsError, ddb, documentClient } from '../helpers/aws.js';

const TABLE = 'saasctl-dev-pooled';
const config = localPlatformConfig('dev', 'us-east-1', { id: 'pool', clientId: 'client' });

function tenant(tenantId: string, status: TenantStatus, overrides: Partial<Tenant> = {}): Tenant {
  return {
    tenantId,
    name: tenantId,
    tier: 'enterprise',
    isolation: 'silo',
    status,
    region: 'eu-west-1',
    adminEmail: `admin@${tenantId}.test`,
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    keyArn: `arn:aws:kms:eu-west-1:000000000000:key/${tenantId}-key`,
    dataTable: `dev-tenant-${tenantId}`,
    ...overrides,
  };
}

describe('audit isolation checks', () => {
  describe('pooled table keys', () => {
    beforeEach(() => ddb.reset());

    it('names why a key is not a tenant partition', () => {
      const known = new Set(['acme']);
      expect(pooledKeyProblem('TENANT#acme', known)).to.equal(undefined);
      expect(pooledKeyProblem('TENANT#acme#7', known)).to.equal(undefined);
      expect(pooledKeyProblem('TENANTacme', known)).to.equal('not-tenant-prefixed');
      expect(pooledKeyProblem(42, known)).to.equal('not-tenant-prefixed');
      expect(pooledKeyProblem('TENANT#Acme', known)).to.equal('invalid-tenant-id');
      expect(pooledKeyProblem('TENANT#', known)).to.equal('invalid-tenant-id');
      expect(pooledKeyProblem('TENANT#acme2', known)).to.equal('unknown-tenant');
      expect(pooledKeyProblem('TENANT#nosuch#1', known)).to.equal('unknown-tenant');
    });

    it('scans every page of the table for its keys only, and counts and lists the offenders', async () => {
      ddb
        .on(ScanCommand)
        .resolvesOnce({
          Items: [
            { PK: 'TENANT#acme', SK: 'DOC#1' },
            { PK: 'TENANTacme', SK: 'DOC#2' },
          ],
          LastEvaluatedKey: { PK: 'TENANTacme', SK: 'DOC#2' },
        })
        .resolvesOnce({
          Items: [
            { PK: 'TENANT#acme#3', SK: 'DOC#3' },
            { PK: 'TENANT#nosuch', SK: 'X' },
          ],
        });

      const check = await auditPooledKeys(documentClient(), TABLE, new Set(['acme']));

      expect(ddb.commandCalls(ScanCommand).map((c) => c.args[0].input)).to.deep.equal([
        { TableName: TABLE, ProjectionExpression: 'PK, SK', ExclusiveStartKey: undefined },
        {
          TableName: TABLE,
          ProjectionExpression: 'PK, SK',
          ExclusiveStartKey: { PK: 'TENANTacme', SK: 'DOC#2' },
        },
      ]);
      expect(check.status).to.equal('fail');
      expect(check.details).to.deep.include({ method: 'scan', items: 4, partitions: 4, offending: 2 });
      expect(check.details?.byProblem).to.deep.equal({
        'not-tenant-prefixed': 1,
        'invalid-tenant-id': 0,
        'unknown-tenant': 1,
      });
      expect(check.findings.map((f) => f.subject)).to.deep.equal([
        'PK=TENANTacme SK=DOC#2',
        'PK=TENANT#nosuch SK=X',
      ]);
    });

    it("queries only the tenant's partition with --tenant, and passes a clean table", async () => {
      ddb.on(QueryCommand).resolves({ Items: [{ PK: 'TENANT#acme', SK: 'DOC#1' }] });

      const check = await auditPooledKeys(documentClient(), TABLE, new Set(['acme']), 'acme');

      expect(ddb.commandCalls(ScanCommand)).to.have.length(0);
      expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input)).to.deep.equal([
        {
          TableName: TABLE,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': 'TENANT#acme' },
          ProjectionExpression: 'PK, SK',
          ExclusiveStartKey: undefined,
        },
      ]);
      expect(check).to.deep.include({ status: 'pass', findings: [] });
      expect(check.details).to.deep.include({ method: 'query', items: 1, offending: 0 });
    });
  });

  describe('silo keys', () => {
    let kms: AwsClientStub<KMSClient>;
    let client: KMSClient;
    const regions: string[] = [];

    before(() => {
      kms = mockClient(KMSClient);
    });
    after(() => kms.restore());
    beforeEach(() => {
      kms.reset();
      regions.length = 0;
      client = new KMSClient({ region: 'eu-west-1' });
    });

    const keyOf = (id: string): string => `arn:aws:kms:eu-west-1:000000000000:key/${id}-key`;
    function keys(states: Record<string, [KeyState, boolean]>): void {
      for (const [id, [state, rotation]] of Object.entries(states)) {
        kms
          .on(DescribeKeyCommand, { KeyId: keyOf(id) })
          .resolves({ KeyMetadata: { KeyId: id, KeyState: state } });
        kms.on(GetKeyRotationStatusCommand, { KeyId: keyOf(id) }).resolves({ KeyRotationEnabled: rotation });
      }
    }
    const audit = (tenants: Tenant[]) =>
      auditSiloKeys(tenants, (t) => {
        regions.push(t.region);
        return client;
      });

    it("describes each silo tenant's key and its rotation, in the tenant's region, and skips pooled tenants", async () => {
      keys({ bigco: ['Enabled', true] });
      const check = await audit([
        tenant('bigco', 'ACTIVE'),
        tenant('acme', 'ACTIVE', { tier: 'pro', isolation: 'pool', keyArn: undefined }),
      ]);

      expect(kms.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: keyOf('bigco') },
      ]);
      expect(kms.commandCalls(GetKeyRotationStatusCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: keyOf('bigco') },
      ]);
      expect(regions).to.deep.equal(['eu-west-1']);
      expect(check.status).to.equal('pass');
      expect(check.details?.keys).to.deep.equal([
        {
          tenantId: 'bigco',
          status: 'ACTIVE',
          region: 'eu-west-1',
          keyArn: keyOf('bigco'),
          keyState: 'Enabled',
          rotationEnabled: true,
          verdict: 'ok',
        },
      ]);
    });

    it("accepts a SUSPENDED tenant's disabled key (the kill switch) but fails an ACTIVE one's, and rotation off", async () => {
      keys({ held: ['Disabled', true], cut: ['Disabled', true], stale: ['Enabled', false] });
      const check = await audit([
        tenant('held', 'SUSPENDED'),
        tenant('cut', 'ACTIVE'),
        tenant('stale', 'ACTIVE'),
      ]);

      expect(check.status).to.equal('fail');
      expect(check.details?.keys.map((k) => [k.tenantId, k.verdict])).to.deep.equal([
        ['held', 'expected-disabled'],
        ['cut', 'fail'],
        ['stale', 'fail'],
      ]);
      expect(check.findings.map((f) => f.message)).to.deep.equal([
        'The key is Disabled, but the tenant is ACTIVE.',
        'Automatic key rotation is off.',
      ]);
    });

    it("reports an offboarded tenant's key pending deletion without asking for its rotation", async () => {
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'gone', KeyState: 'PendingDeletion' } });
      const check = await audit([tenant('gone', 'DELETED')]);
      expect(kms.commandCalls(GetKeyRotationStatusCommand)).to.have.length(0);
      expect(check.status).to.equal('pass');
      expect(check.details?.keys[0].verdict).to.equal('expected-deleting');
    });

    it('fails a key KMS does not know, and a silo tenant without a key', async () => {
      kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
      const check = await audit([tenant('lost', 'ACTIVE'), tenant('bare', 'ACTIVE', { keyArn: undefined })]);
      expect(check.status).to.equal('fail');
      expect(check.findings.map((f) => f.message)).to.deep.equal([
        'KMS does not know the recorded key.',
        'A silo tenant without a key of its own.',
      ]);
    });

    it('is skipped when no tenant is siloed', async () => {
      const check = await audit([tenant('acme', 'ACTIVE', { isolation: 'pool', keyArn: undefined })]);
      expect(check.status).to.equal('skip');
      expect(kms.calls()).to.have.length(0);
    });
  });

  describe('session policies', () => {
    it("passes every default tier's policy, and a tenant's own against its neighbours", () => {
      const check = auditSessionPolicies(
        DEFAULT_TIERS,
        config,
        tenant('bigco', 'ACTIVE', { region: 'us-east-1' }),
      );
      expect(check.findings).to.deep.equal([]);
      expect(check.status).to.equal('pass');
      const policies = check.details?.policies ?? [];
      expect(policies.map((p) => `${p.subject}:${p.tier}`)).to.deep.equal([
        'synthetic:starter',
        'synthetic:pro',
        'synthetic:business',
        'synthetic:enterprise',
        'synthetic:enterprise-account',
        'tenant:enterprise',
      ]);
      for (const p of policies) {
        expect(p.crossTenant.total, p.tier).to.be.greaterThan(40);
        expect(p.crossTenant.asExpected).to.equal(p.crossTenant.total);
        expect(p.own.asExpected).to.equal(p.own.total);
        expect(p.characters).to.be.within(1, 1024);
      }
      expect(neighbourIds('acme')).to.deep.equal(['acme2', 'acme-2', 'acmex', 'acm']);
    });

    it('fails a policy over half of STS limit, and one that cannot be built', () => {
      const long = { ...config, tables: { ...config.tables, pooled: 'p'.repeat(700) } };
      const check = auditSessionPolicies(
        [{ name: 'pro', isolation: 'pool' }],
        long,
        tenant('bigco', 'ACTIVE', { dataTable: undefined }),
      );
      expect(check.status).to.equal('fail');
      expect(check.findings.map((f) => f.message).join('\n'))
        .to.match(/over 1024, half of STS's 2048/)
        .and.to.match(/TENANT_TABLE_MISSING|has no data table/);
    });
  });

  describe('postgres', () => {
    /** A catalog that answers each query of the check from fixed rows. */
    function catalog(rows: Record<string, Record<string, unknown>[]>): SqlClient {
      return {
        async query<R>(sql: string) {
          const key = Object.keys(rows).find((k) => sql.includes(k));
          return { rows: (key ? rows[key] : []) as R[] };
        },
      } as SqlClient;
    }
    const clean = {
      'SHOW server_version': [{ server_version: '18.0' }],
      'EXISTS (SELECT 1 FROM pg_namespace': [{ exists: true }],
      'AS has_tenant_id': [
        {
          name: 'notes',
          owner: 'postgres',
          has_tenant_id: true,
          rls_enabled: true,
          rls_forced: true,
          policies: 2,
          app_is_member_of_owner: false,
        },
      ],
      'AS bypass_rls': [{ superuser: false, bypass_rls: false, owns: [] }],
    };

    it('passes a schema whose tables have tenant_id and forced RLS, an app role that owns nothing', async () => {
      const check = await auditPostgres(catalog(clean));
      expect(check).to.deep.include({ status: 'pass', findings: [] });
    });

    it('names each way the schema lets a tenant read another', async () => {
      const check = await auditPostgres(
        catalog({
          ...clean,
          'AS has_tenant_id': [
            { ...clean['AS has_tenant_id'][0], rls_forced: false },
            { ...clean['AS has_tenant_id'][0], name: 'settings', has_tenant_id: false },
          ],
          'AS bypass_rls': [{ superuser: false, bypass_rls: true, owns: ['app.notes'] }],
          'c.reloptions AS options': [
            { name: 'all_notes', kind: 'v', options: null },
            { name: 'safe_notes', kind: 'v', options: ['security_invoker=true'] },
          ],
          'p.prosecdef': [{ name: 'peek(text)' }],
        }),
      );
      expect(check.status).to.equal('fail');
      expect(check.findings.map((f) => f.subject)).to.deep.equal([
        'app.notes',
        'app.settings',
        'saasctl_app',
        'saasctl_app',
        'app.all_notes',
        'app.peek(text)',
      ]);
    });
  });
});
