import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { SaasctlError } from '../../../src/lib/cli/errors.js';
import { localPlatformConfig } from '../../../src/lib/platform/config.js';
import { maxAttempts, openPlatform } from '../../../src/lib/platform/platform.js';
import { resolveTarget } from '../../../src/lib/platform/target.js';

describe('openPlatform on the aws target', () => {
  // Created here, not at module level: stubs are process-wide and other files stub STS too.
  let ssm: AwsClientStub<SSMClient>;
  let sts: AwsClientStub<STSClient>;
  before(() => {
    ssm = mockClient(SSMClient);
    sts = mockClient(STSClient);
  });
  after(() => {
    ssm.restore();
    sts.restore();
  });

  const target = resolveTarget({ target: 'aws', stage: 'prod', region: 'eu-west-1' }, {});
  const deployed = {
    ...localPlatformConfig('prod', 'eu-west-1', { id: 'eu-west-1_abc', clientId: 'client' }),
  };

  beforeEach(() => {
    ssm.reset();
    sts.reset();
  });

  it('reads every resource name from /saasctl/<stage>/platform', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify(deployed) } });
    const platform = await openPlatform(target, { services: ['dynamodb'] });
    try {
      expect(ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input)).to.deep.equal([
        { Name: '/saasctl/prod/platform' },
      ]);
      expect(platform.config).to.deep.equal(deployed);
      expect(platform.clients.options.region).to.equal('eu-west-1');
      expect(platform.clients.options.endpoints).to.equal(undefined);
    } finally {
      await platform.close();
    }
  });

  it('names the caller ARN as the actor, asking STS once', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify(deployed) } });
    sts.on(GetCallerIdentityCommand).resolves({ Arn: 'arn:aws:sts::123456789012:assumed-role/Ops/jane' });
    const platform = await openPlatform(target, { services: [] });
    try {
      expect(await platform.actor()).to.equal('arn:aws:sts::123456789012:assumed-role/Ops/jane');
      expect(await platform.actor()).to.equal('arn:aws:sts::123456789012:assumed-role/Ops/jane');
      expect(sts.commandCalls(GetCallerIdentityCommand)).to.have.length(1);
    } finally {
      await platform.close();
    }
  });

  it('answers a stage that is not deployed with exit 3 and what to check', async () => {
    ssm.on(GetParameterCommand).rejects(Object.assign(new Error('not found'), { name: 'ParameterNotFound' }));
    const error = await openPlatform(target, { services: [] }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).to.be.instanceOf(SaasctlError);
    expect((error as SaasctlError).code).to.equal('PLATFORM_NOT_DEPLOYED');
    expect((error as SaasctlError).exitCode).to.equal(3);
    expect((error as SaasctlError).message).to.include('/saasctl/prod/platform');
  });

  it('refuses a parameter that lacks resource names, naming them', async () => {
    const { userPool: _pool, ...partial } = deployed;
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify(partial) } });
    const error = (await openPlatform(target, { services: [] }).catch((err: unknown) => err)) as SaasctlError;
    expect(error.code).to.equal('PLATFORM_CONFIG_INVALID');
    expect(error.message).to.include('userPool.id, userPool.clientId');
  });
});

describe('maxAttempts', () => {
  it('takes SAASCTL_MAX_ATTEMPTS when it is a whole number from 1 to 10', () => {
    expect(maxAttempts('1')).to.equal(1);
    expect(maxAttempts('10')).to.equal(10);
  });

  it('falls back to the default for anything else', () => {
    for (const value of [undefined, '', '0', '11', '2.5', 'many'])
      expect(maxAttempts(value), String(value)).to.equal(4);
  });
});
