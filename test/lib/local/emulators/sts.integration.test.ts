import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { expect } from 'chai';

import {
  startStsEmulator,
  storedSessions,
  type StoredSession,
} from '../../../../src/lib/local/emulators/sts.js';
import type { RunningService } from '../../../../src/lib/local/services.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ACCOUNT = '000000000000';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/saasctl-dev-tenant-runtime`;
const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: '*' }],
});

function control<T>(endpoint: string, name: string, body: object): Promise<{ status: number; json: T }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}/_saasctl/${name}`, { method: 'POST', agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as T }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('STS emulator', () => {
  let directory: string;
  let emulator: RunningService;
  let sts: STSClient;
  let now = Date.parse('2026-11-27T10:00:00Z');

  const client = (
    credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as {
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken?: string;
    },
  ) => new STSClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'saasctl-sts-'));
    now = Date.parse('2026-11-27T10:00:00Z');
    emulator = await startStsEmulator({ directory, accountId: ACCOUNT, now: () => now });
    sts = client();
  });

  afterEach(async () => {
    sts.destroy();
    await emulator.stop();
    await rm(directory, { recursive: true, force: true });
  });

  const assume = (input: Partial<ConstructorParameters<typeof AssumeRoleCommand>[0]> = {}) =>
    sts.send(
      new AssumeRoleCommand({
        RoleArn: ROLE,
        RoleSessionName: 'tenant-acme',
        DurationSeconds: 900,
        Policy: POLICY,
        Tags: [{ Key: 'tenantId', Value: 'acme' }],
        ...input,
      }),
    );

  it('answers AssumeRole through the SDK client with session credentials of the requested duration', async () => {
    const out = await assume();
    expect(out.Credentials?.AccessKeyId).to.match(/^ASIA[A-Z2-7]{16}$/);
    expect(out.Credentials?.SecretAccessKey).to.have.length(40);
    expect(out.Credentials?.SessionToken).to.be.a('string');
    expect(out.Credentials?.Expiration?.toISOString()).to.equal('2026-11-27T10:15:00.000Z');
    expect(out.AssumedRoleUser?.Arn).to.equal(
      `arn:aws:sts::${ACCOUNT}:assumed-role/saasctl-dev-tenant-runtime/tenant-acme`,
    );
    expect(out.AssumedRoleUser?.AssumedRoleId).to.match(/^AROA[A-Z2-7]{17}:tenant-acme$/);
    expect(out.PackedPolicySize).to.be.within(1, 100);
  });

  it("remembers each session's policy, tags and expiry, on disk across restarts", async () => {
    const out = await assume();
    const key = out.Credentials?.AccessKeyId as string;
    await emulator.stop();
    emulator = await startStsEmulator({ directory, accountId: ACCOUNT, now: () => now });
    const { json } = await control<StoredSession & { expired: boolean }>(
      emulator.endpoint,
      'DescribeSession',
      {
        AccessKeyId: key,
      },
    );
    expect(json).to.include({
      roleArn: ROLE,
      roleSessionName: 'tenant-acme',
      policy: POLICY,
      expiration: '2026-11-27T10:15:00.000Z',
      assumedBy: 'S3RVER',
      expired: false,
    });
    expect(json.tags).to.deep.equal([{ Key: 'tenantId', Value: 'acme' }]);
    expect(JSON.parse(await readFile(path.join(directory, 'sessions.json'), 'utf8')).sessions).to.have.length(
      1,
    );
  });

  it('lets the stack look sessions up from its file, each new one as soon as it is vended', async () => {
    const lookup = storedSessions(directory);
    const first = (await assume()).Credentials?.AccessKeyId as string;
    expect((await lookup(first))?.policy).to.equal(POLICY);
    const second = (await assume()).Credentials?.AccessKeyId as string;
    expect((await lookup(second))?.accessKeyId).to.equal(second);
    expect(await lookup('ASIANEVERVENDED0000')).to.equal(undefined);
  });

  it('answers GetCallerIdentity as the assumed role for session credentials, and as root otherwise', async () => {
    const c = (await assume()).Credentials;
    const session = client({
      accessKeyId: c?.AccessKeyId as string,
      secretAccessKey: c?.SecretAccessKey as string,
      sessionToken: c?.SessionToken,
    });
    const identity = await session.send(new GetCallerIdentityCommand({}));
    expect(identity).to.include({
      Account: ACCOUNT,
      Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/saasctl-dev-tenant-runtime/tenant-acme`,
    });
    expect(identity.UserId).to.match(/^AROA[A-Z2-7]{17}:tenant-acme$/);
    expect(await sts.send(new GetCallerIdentityCommand({}))).to.include({
      Arn: `arn:aws:iam::${ACCOUNT}:root`,
    });
    session.destroy();
  });

  it('refuses expired session credentials with ExpiredToken, and a wrong session token', async () => {
    const c = (await assume()).Credentials;
    const creds = { accessKeyId: c?.AccessKeyId as string, secretAccessKey: 'x' };
    now += 900_000;
    const expired = client({ ...creds, sessionToken: c?.SessionToken });
    const err = await expired.send(new GetCallerIdentityCommand({})).catch((e: Error) => e);
    expect((err as Error).name).to.equal('ExpiredToken');
    const forged = client({ ...creds, sessionToken: 'forged' });
    expect(
      ((await forged.send(new GetCallerIdentityCommand({})).catch((e: Error) => e)) as Error).name,
    ).to.equal('InvalidClientTokenId');
    expired.destroy();
    forged.destroy();
  });

  const refusals: [string, Partial<ConstructorParameters<typeof AssumeRoleCommand>[0]>, string, RegExp][] = [
    [
      'a duration under 15 minutes',
      { DurationSeconds: 899 },
      'ValidationError',
      /greater than or equal to 900/,
    ],
    [
      'a duration beyond the role maximum',
      { DurationSeconds: 3601 },
      'ValidationError',
      /MaxSessionDuration/,
    ],
    [
      'a policy over 2,048 characters',
      {
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: 'x'.repeat(2048) }],
        }),
      },
      'ValidationError',
      /2048/,
    ],
    ['a policy that is not JSON', { Policy: '{"Version":' }, 'MalformedPolicyDocumentException', /Syntax/],
    [
      'a policy with a principal',
      {
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' }],
        }),
      },
      'MalformedPolicyDocumentException',
      /principal/,
    ],
    ['a session name with a space', { RoleSessionName: 'tenant acme' }, 'ValidationError', /roleSessionName/],
    [
      'a role that is not a role ARN',
      { RoleArn: 'arn:aws:iam::000000000000:user/someone' },
      'ValidationError',
      /roleArn/,
    ],
    [
      'duplicate tag keys',
      {
        Tags: [
          { Key: 'tenantId', Value: 'a' },
          { Key: 'TenantId', Value: 'b' },
        ],
      },
      'InvalidParameterValue',
      /Duplicate tag keys/,
    ],
  ];
  for (const [what, input, name, message] of refusals) {
    it(`refuses ${what} with ${name}`, async () => {
      const err = (await assume(input).catch((e: Error) => e)) as Error;
      expect(err).to.be.instanceOf(Error);
      expect(err.name).to.equal(name);
      expect(err.message).to.match(message);
    });
  }

  it('refuses a policy whose packed size is over the budget with PackedPolicyTooLarge', async () => {
    // Random text does not deflate: 1,900 characters of it pack to more than the budget.
    const resources = Array.from(
      { length: 23 },
      () => `arn:aws:s3:::b/${randomBytes(48).toString('base64url')}`,
    );
    const fixed = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: resources }],
    });
    expect(fixed.length).to.be.within(1800, 2048);
    const err = (await assume({ Policy: fixed }).catch((e: Error) => e)) as Error;
    expect(err.name).to.equal('PackedPolicyTooLargeException');
    expect(err.message).to.match(/Packed policy consumes \d+% of allotted space/);
  });
});
