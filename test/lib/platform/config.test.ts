import { expect } from 'chai';

import {
  localPlatformConfig,
  parsePlatformConfig,
  platformParameterName,
  type PlatformConfig,
} from '../../../src/lib/platform/config.js';
import { thrownBy } from '../helpers/aws.js';

const SOURCE = 'in SSM parameter /saasctl/prod/platform';

function fullConfig(): PlatformConfig {
  return {
    schemaVersion: 1,
    stage: 'prod',
    region: 'eu-west-1',
    tables: {
      controlPlane: 'saasctl-prod-control-plane',
      pooled: 'saasctl-prod-pooled',
      usage: 'saasctl-prod-usage',
      ledger: 'saasctl-prod-marketplace-ledger',
    },
    rawLakeBucket: 'saasctl-prod-raw-lake-123456789012',
    usageStream: 'saasctl-prod-usage',
    userPool: { id: 'eu-west-1_AbCdEf', clientId: '1example23456789' },
    stateMachines: {
      onboarding: 'arn:aws:states:eu-west-1:123456789012:stateMachine:onboarding',
      offboarding: 'arn:aws:states:eu-west-1:123456789012:stateMachine:offboarding',
    },
    accountId: '123456789012',
    tenantRuntimeRoleArn: 'arn:aws:iam::123456789012:role/saasctl-prod-tenant-runtime',
    athena: { workgroup: 'saasctl-prod', database: 'saasctl_prod', table: 'raw_usage' },
  };
}

/** A deep copy of the full config with one dotted field removed or replaced. */
function withField(dotted: string, value: unknown): string {
  const config = JSON.parse(JSON.stringify(fullConfig())) as Record<string, unknown>;
  const parts = dotted.split('.');
  let holder = config;
  for (const part of parts.slice(0, -1)) holder = holder[part] as Record<string, unknown>;
  const last = parts[parts.length - 1];
  if (value === undefined) delete holder[last];
  else holder[last] = value;
  return JSON.stringify(config);
}

describe('platform configuration', () => {
  it('names the SSM parameter after the stage', () => {
    expect(platformParameterName('prod')).to.equal('/saasctl/prod/platform');
  });

  describe('localPlatformConfig', () => {
    it('derives every resource name from the stage and keeps the user pool ids', () => {
      expect(
        localPlatformConfig('local', 'us-east-1', { id: 'local_pool', clientId: 'client1' }),
      ).to.deep.equal({
        schemaVersion: 1,
        stage: 'local',
        region: 'us-east-1',
        tables: {
          controlPlane: 'saasctl-local-control-plane',
          pooled: 'saasctl-local-pooled',
          usage: 'saasctl-local-usage',
          ledger: 'saasctl-local-marketplace-ledger',
        },
        rawLakeBucket: 'saasctl-local-raw-lake',
        tenantDataBucket: 'saasctl-local-tenant-data',
        usageStream: 'saasctl-local-usage',
        userPool: { id: 'local_pool', clientId: 'client1' },
        accountId: '000000000000',
        tenantRuntimeRoleArn: 'arn:aws:iam::000000000000:role/saasctl-local-tenant-runtime',
      });
    });

    it('produces a config that parsePlatformConfig accepts', () => {
      const config = localPlatformConfig('demo', 'eu-west-1', { id: 'p', clientId: 'c' });
      expect(parsePlatformConfig(JSON.stringify(config), 'local')).to.deep.equal(config);
    });
  });

  describe('parsePlatformConfig', () => {
    it('accepts a full configuration, state machines and athena included', () => {
      expect(parsePlatformConfig(JSON.stringify(fullConfig()), SOURCE)).to.deep.equal(fullConfig());
    });

    it('accepts a configuration without the optional state machines', () => {
      const json = withField('stateMachines', undefined);
      expect(parsePlatformConfig(json, SOURCE)).not.to.have.property('stateMachines');
    });

    it('accepts a configuration without the optional athena block (the local target has none)', () => {
      const json = withField('athena', undefined);
      expect(parsePlatformConfig(json, SOURCE)).not.to.have.property('athena');
    });

    for (const field of ['athena.workgroup', 'athena.database', 'athena.table']) {
      it(`names ${field} when the athena block lacks it, or holds it empty or not as a string`, () => {
        for (const value of [undefined, '', 7]) {
          const err = thrownBy(() => parsePlatformConfig(withField(field, value), SOURCE));
          expect(err.code).to.equal('PLATFORM_CONFIG_INVALID');
          expect(err.message, String(value)).to.equal(
            `The platform configuration ${SOURCE} is unusable: it lacks ${field}.`,
          );
        }
      });
    }

    it('names every athena field when the athena block is present but not an object', () => {
      for (const value of [null, 'saasctl-prod', {}]) {
        expect(
          thrownBy(() => parsePlatformConfig(withField('athena', value), SOURCE)).message,
          JSON.stringify(value),
        ).to.equal(
          `The platform configuration ${SOURCE} is unusable: it lacks athena.workgroup, athena.database, athena.table.`,
        );
      }
    });

    it('accepts a Marketplace product code for legacy buyers, and names it when the block lacks it', () => {
      const config = { ...fullConfig(), marketplace: { productCode: 'abc123product' } };
      expect(parsePlatformConfig(JSON.stringify(config), SOURCE)).to.deep.equal(config);
      expect(
        thrownBy(() => parsePlatformConfig(JSON.stringify({ ...fullConfig(), marketplace: {} }), SOURCE))
          .message,
      ).to.equal(`The platform configuration ${SOURCE} is unusable: it lacks marketplace.productCode.`);
    });

    it('names every missing field, in order, when only the schema version is there', () => {
      const err = thrownBy(() => parsePlatformConfig('{"schemaVersion":1}', SOURCE));
      expect(err.code).to.equal('PLATFORM_CONFIG_INVALID');
      expect(err.exitCode).to.equal(1);
      expect(err.message).to.equal(
        `The platform configuration ${SOURCE} is unusable: it lacks stage, region, tables.controlPlane, ` +
          'tables.pooled, tables.usage, tables.ledger, rawLakeBucket, usageStream, userPool.id, userPool.clientId, accountId, tenantRuntimeRoleArn.',
      );
      expect(err.actions[0]).to.include('Redeploy the infra app');
    });

    const required = [
      'stage',
      'region',
      'tables.controlPlane',
      'tables.pooled',
      'tables.usage',
      'tables.ledger',
      'rawLakeBucket',
      'usageStream',
      'userPool.id',
      'userPool.clientId',
    ];
    for (const field of required) {
      it(`names ${field} alone when only it is missing`, () => {
        const err = thrownBy(() => parsePlatformConfig(withField(field, undefined), SOURCE));
        expect(err.code).to.equal('PLATFORM_CONFIG_INVALID');
        expect(err.message).to.equal(`The platform configuration ${SOURCE} is unusable: it lacks ${field}.`);
      });
    }

    it('treats an empty string or a non-string value as missing', () => {
      expect(thrownBy(() => parsePlatformConfig(withField('userPool.id', ''), SOURCE)).message).to.include(
        'it lacks userPool.id.',
      );
      expect(thrownBy(() => parsePlatformConfig(withField('tables.usage', 42), SOURCE)).message).to.include(
        'it lacks tables.usage.',
      );
      expect(thrownBy(() => parsePlatformConfig(withField('tables', 'flat'), SOURCE)).message).to.include(
        'it lacks tables.controlPlane, tables.pooled, tables.usage, tables.ledger.',
      );
    });

    it('names every field when the JSON is null', () => {
      expect(thrownBy(() => parsePlatformConfig('null', SOURCE)).message).to.include(
        'it lacks stage, region, tables.controlPlane',
      );
    });

    it('refuses text that is not JSON and keeps the parse error as the cause', () => {
      const err = thrownBy(() => parsePlatformConfig('{"stage": ', SOURCE));
      expect(err.code).to.equal('PLATFORM_CONFIG_INVALID');
      expect(err.message).to.equal(`The platform configuration ${SOURCE} is unusable: it is not valid JSON.`);
      expect(err.cause).to.be.instanceOf(SyntaxError);
    });

    it('refuses an empty parameter value as not JSON', () => {
      expect(thrownBy(() => parsePlatformConfig('', SOURCE)).message).to.include('it is not valid JSON');
    });

    it('refuses a schema version other than 1', () => {
      for (const version of [2, '1', undefined]) {
        const err = thrownBy(() => parsePlatformConfig(withField('schemaVersion', version), SOURCE));
        expect(err.message, String(version)).to.equal(
          `The platform configuration ${SOURCE} is unusable: its schemaVersion is not 1.`,
        );
      }
    });
  });
});
