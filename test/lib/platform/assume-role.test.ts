import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { AwsClientFactory, type CredentialsProvider } from '../../../src/lib/platform/clients.js';

describe('AwsClientFactory.inAccount', () => {
  let sts: AwsClientStub<STSClient>;
  before(() => {
    sts = mockClient(STSClient);
  });
  after(() => sts.restore());
  beforeEach(() => sts.reset());

  const credentialsOf = (factory: AwsClientFactory) => factory.options.credentials as CredentialsProvider;

  it("assumes OrganizationAccountAccessRole in the tenant's account, with the same region", async () => {
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: 'AKIA',
        SecretAccessKey: 'secret',
        SessionToken: 'token',
        Expiration: new Date(Date.now() + 3_600_000),
      },
    });
    const factory = new AwsClientFactory({ region: 'eu-west-1', profile: 'ops' }).inAccount('210987654321');
    expect(factory.options.region).to.equal('eu-west-1');
    expect(factory.options.profile, 'the role is assumed with the profile, not used with it').to.equal(
      undefined,
    );
    const credentials = await credentialsOf(factory)();
    expect(credentials).to.include({ accessKeyId: 'AKIA', secretAccessKey: 'secret', sessionToken: 'token' });
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).to.deep.equal([
      {
        RoleArn: 'arn:aws:iam::210987654321:role/OrganizationAccountAccessRole',
        RoleSessionName: 'saasctl',
        DurationSeconds: 3600,
      },
    ]);
  });

  it('reuses credentials until five minutes before they expire', async () => {
    sts.on(AssumeRoleCommand).resolvesOnce({
      Credentials: {
        AccessKeyId: 'FIRST',
        SecretAccessKey: 's',
        SessionToken: 't',
        Expiration: new Date(Date.now() + 3_600_000),
      },
    });
    const provider = credentialsOf(new AwsClientFactory({ region: 'us-east-1' }).inAccount('210987654321'));
    await provider();
    expect((await provider()).accessKeyId).to.equal('FIRST');
    expect(sts.commandCalls(AssumeRoleCommand)).to.have.length(1);

    sts.reset();
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: 'SOON',
        SecretAccessKey: 's',
        SessionToken: 't',
        Expiration: new Date(Date.now() + 60_000),
      },
    });
    const expiring = credentialsOf(new AwsClientFactory({ region: 'us-east-1' }).inAccount('210987654321'));
    await expiring();
    await expiring();
    expect(sts.commandCalls(AssumeRoleCommand), 'credentials about to expire are renewed').to.have.length(2);
  });

  it('hands out one factory per account and role', () => {
    const base = new AwsClientFactory({ region: 'us-east-1' });
    expect(base.inAccount('210987654321')).to.equal(base.inAccount('210987654321'));
    expect(base.inAccount('210987654321')).to.not.equal(base.inAccount('210987654321', 'Other'));
  });
});
