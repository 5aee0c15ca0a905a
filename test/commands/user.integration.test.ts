import { ListUsersCommand } from '@aws-sdk/client-cognito-identity-provider';
import { JwtRsaVerifier } from 'aws-jwt-verify';
import { expect } from 'chai';

import { localAuthorizerConfig } from '../../src/lib/identity/issuer.js';
import type { UserCreateResult, UserLoginResult } from '../../src/lib/identity/users.js';
import { startStack } from '../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import type { AwsClientFactory } from '../../src/lib/platform/clients.js';
import { TenantAuthorizer } from '../../src/lib/runtime/authorizer.js';
import { CachedTenantReader } from '../../src/lib/runtime/tenant-access.js';
import { TokenVendor } from '../../src/lib/runtime/vending.js';
import { TenantCatalog } from '../../src/lib/tenants/catalog.js';
import type { AuditRecord } from '../../src/lib/tenants/model.js';
import { type ErrorEnvelope, run, tempHome, onboardTenants } from '../helpers/cli.js';

const STAGE = 'local';
const REGION = 'us-east-1';
const PASSWORD = 'Correct-Horse-9';

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

describe('user create / user login (local stack, pre-token trigger through the Lambda shim)', function () {
  this.timeout(120_000);
  const { home, dispose } = tempHome('saasctl-user-');
  let owner: StackOwner;
  let clients: AwsClientFactory;
  const savedPassword = process.env.SAASCTL_USER_PASSWORD;

  before(async () => {
    delete process.env.SAASCTL_USER_PASSWORD;
    owner = await startStack({ home, stage: STAGE, region: REGION });
    clients = localClients(owner.info().endpoints, REGION);
    await onboardTenants(home, [
      ['acme', 'pro'],
      ['globex', 'starter'],
    ]);
  });
  after(async () => {
    if (savedPassword !== undefined) process.env.SAASCTL_USER_PASSWORD = savedPassword;
    clients?.destroy();
    await owner?.stop();
    dispose();
  });

  async function userCount(): Promise<number> {
    const { Users } = await clients
      .cognito()
      .send(new ListUsersCommand({ UserPoolId: owner.info().platform.userPool.id }));
    return Users?.length ?? 0;
  }

  async function login(email: string, password = PASSWORD) {
    return run(['user', 'login', email, '--password', password, '--json'], home);
  }

  it('creates a user of a tenant with the given password, and audits it', async () => {
    const outcome = await run(
      ['user', 'create', 'dev@acme.test', '--tenant', 'acme', '--password', PASSWORD, '--json'],
      home,
    );
    expect(outcome.exitCode, outcome.stdout + outcome.stderr).to.equal(0);
    expect(outcome.json).to.deep.equal({
      email: 'dev@acme.test',
      tenantId: 'acme',
      tier: 'pro',
      username: 'dev@acme.test',
      created: true,
      invitation: 'suppressed',
      passwordSet: true,
    });

    const show = await run(['tenant', 'show', 'acme', '--json'], home);
    const record = (show.json as { audit: AuditRecord[] }).audit.find((a) => a.action === 'user-create');
    expect(record?.changes).to.deep.equal({
      user: { to: 'dev@acme.test' },
      invitation: { to: 'suppressed' },
      password: { to: 'given, permanent' },
    });
    expect(JSON.stringify(record)).not.to.contain(PASSWORD);
  });

  it("signs in through the pre-token trigger: the ID token carries the tenant's claims, the real issuer", async () => {
    const outcome = await login('dev@acme.test');
    expect(outcome.exitCode, outcome.stdout + outcome.stderr).to.equal(0);
    const result = outcome.json as UserLoginResult;
    expect(result).to.include({ tenantId: 'acme', tokenType: 'Bearer', expiresIn: 86_400 });

    const { issuer, jwksUri, clientId, jwks } = await localAuthorizerConfig(owner.info());
    expect(issuer).to.match(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/local_/);
    const id = claims(result.idToken);
    expect(id).to.include({
      tenantId: 'acme',
      tier: 'pro',
      tenantStatus: 'ACTIVE',
      iss: issuer,
      aud: clientId,
    });
    expect(id['cognito:groups']).to.deep.equal(['tenant-acme']);

    expect(jwksUri).to.equal(`${issuer}/.well-known/jwks.json`);
    // Signature (RS256 against cognito-local's JWKS, fetched over http by the helper: aws-jwt-verify
    // fetches https only), issuer, token use and client.
    const verifier = JwtRsaVerifier.create({
      issuer,
      jwksUri,
      audience: null,
      customJwtCheck: ({ payload }) => {
        if (payload.token_use !== 'access' || payload.client_id !== clientId)
          throw new Error('not our access token');
      },
    });
    verifier.cacheJwks(jwks);
    const access = await verifier.verify(result.accessToken);
    expect(access['cognito:groups']).to.deep.equal(['tenant-acme']);
    expect(access.sub).to.equal(id.sub);
  });

  it("is authorized by TenantAuthorizer with the local helper's settings, and gets the tenant's credentials", async () => {
    const result = (await login('dev@acme.test')).json as UserLoginResult;
    const info = owner.info();
    const authorizer = new TenantAuthorizer({
      ...(await localAuthorizerConfig(info)),
      tenants: new CachedTenantReader(
        new TenantCatalog(clients.documents(), info.platform.tables.controlPlane),
      ),
      vendor: new TokenVendor({ sts: () => clients.sts(), roleArn: info.platform.tenantRuntimeRoleArn }),
      platform: info.platform,
    });
    const authorized = await authorizer.authorize(`Bearer ${result.accessToken}`);
    expect(authorized.tenant.tenantId).to.equal('acme');
    expect(authorized.credentials.assumedRoleArn).to.match(
      /assumed-role\/saasctl-local-tenant-runtime\/tenant-acme$/,
    );
  });

  it('prints the access token alone on stdout, for TOKEN=$(saasctl user login ...)', async () => {
    const outcome = await run(['user', 'login', 'dev@acme.test', '--password', PASSWORD], home);
    expect(outcome.exitCode).to.equal(0);
    expect(outcome.stdout).to.match(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(claims(outcome.stdout.trim()).token_use).to.equal('access');
  });

  it('takes the password from SAASCTL_USER_PASSWORD', async () => {
    process.env.SAASCTL_USER_PASSWORD = PASSWORD;
    try {
      const outcome = await run(['user', 'login', 'dev@acme.test', '--json'], home);
      expect(outcome.exitCode, outcome.stdout).to.equal(0);
    } finally {
      delete process.env.SAASCTL_USER_PASSWORD;
    }
  });

  it('refuses a wrong password or an unknown user with exit 1 UNAUTHORIZED', async () => {
    for (const [email, password] of [
      ['dev@acme.test', 'Wrong-Horse-99'],
      ['nobody@acme.test', PASSWORD],
    ]) {
      const outcome = await login(email, password);
      expect(outcome.exitCode).to.equal(1);
      expect((outcome.json as ErrorEnvelope).error.code).to.equal('UNAUTHORIZED');
    }
  });

  it('refuses to ask for a password without a terminal (exit 2) instead of hanging', async function () {
    if (process.stdin.isTTY) this.skip();
    const outcome = await run(['user', 'login', 'dev@acme.test', '--json'], home);
    expect(outcome.exitCode).to.equal(2);
    expect((outcome.json as ErrorEnvelope).error.code).to.equal('PASSWORD_REQUIRED');
  });

  it('gives no token to a user of a suspended tenant (exit 4), and again one once it is resumed', async () => {
    expect((await run(['tenant', 'suspend', 'acme', '--reason', 'unpaid invoice'], home)).exitCode).to.equal(
      0,
    );
    try {
      const outcome = await login('dev@acme.test');
      expect(outcome.exitCode).to.equal(4);
      const { error } = outcome.json as ErrorEnvelope;
      expect(error.code).to.equal('LOGIN_REFUSED');
      expect(error.message).to.contain('Tenant "acme" is SUSPENDED');
      expect(outcome.stdout).not.to.match(/eyJ/);

      const human = await run(['user', 'login', 'dev@acme.test', '--password', PASSWORD], home);
      expect(human.exitCode).to.equal(4);
      expect(human.stdout).to.equal('');
    } finally {
      expect((await run(['tenant', 'resume', 'acme', '--reason', 'paid'], home)).exitCode).to.equal(0);
    }
    expect((await login('dev@acme.test')).exitCode).to.equal(0);
  });

  it('is idempotent: the same user of the same tenant again is success, created false', async () => {
    const outcome = await run(['user', 'create', 'dev@acme.test', '--tenant', 'acme', '--json'], home);
    expect(outcome.exitCode, outcome.stdout).to.equal(0);
    expect(outcome.json).to.include({ created: false, invitation: 'none', passwordSet: false });
    expect(outcome.json).not.to.have.property('generatedPassword');
    // The password it had still works.
    expect((await login('dev@acme.test')).exitCode).to.equal(0);
  });

  it("refuses another tenant's user (exit 4 USER_EMAIL_TAKEN) and changes nothing", async () => {
    const outcome = await run(['user', 'create', 'dev@acme.test', '--tenant', 'globex', '--json'], home);
    expect(outcome.exitCode).to.equal(4);
    expect((outcome.json as ErrorEnvelope).error.code).to.equal('USER_EMAIL_TAKEN');
    expect(claims(((await login('dev@acme.test')).json as UserLoginResult).idToken)).to.include({
      tenantId: 'acme',
    });
  });

  it('refuses a bad email (exit 2) and an unknown or suspended tenant, writing no user', async () => {
    const before = await userCount();
    const bad = await run(['user', 'create', 'not-an-email', '--tenant', 'acme', '--json'], home);
    expect(bad.exitCode).to.equal(2);
    expect((bad.json as ErrorEnvelope).error.code).to.equal('INVALID_EMAIL');
    const weak = await run(
      ['user', 'create', 'x@acme.test', '--tenant', 'acme', '--password', 'short', '--json'],
      home,
    );
    expect(weak.exitCode).to.equal(2);
    const unknown = await run(['user', 'create', 'x@nobody.test', '--tenant', 'nobody', '--json'], home);
    expect(unknown.exitCode).to.equal(3);

    expect((await run(['tenant', 'suspend', 'globex', '--reason', 'review'], home)).exitCode).to.equal(0);
    try {
      const suspended = await run(['user', 'create', 'x@globex.test', '--tenant', 'globex', '--json'], home);
      expect(suspended.exitCode).to.equal(4);
      expect((suspended.json as ErrorEnvelope).error.code).to.equal('TENANT_NOT_ACTIVE');
    } finally {
      expect((await run(['tenant', 'resume', 'globex', '--reason', 'review done'], home)).exitCode).to.equal(
        0,
      );
    }
    expect(await userCount()).to.equal(before);
  });

  it("gives onboarding's admin, who has no password locally, a generated one it can sign in with", async () => {
    const first = await login('admin@globex.test', 'Anything-at-all-1');
    expect(first.exitCode).to.equal(4);
    expect((first.json as ErrorEnvelope).error.code).to.equal('PASSWORD_CHANGE_REQUIRED');

    const human = await run(['user', 'create', 'admin@globex.test', '--tenant', 'globex'], home);
    expect(human.exitCode, human.stderr).to.equal(0);
    const password = /^password: (\S+)$/m.exec(human.stdout)?.[1] ?? '';
    expect(human.stderr).to.contain('shown this once');

    const signedIn = await login('admin@globex.test', password);
    expect(signedIn.exitCode, signedIn.stdout).to.equal(0);
    expect(claims((signedIn.json as UserLoginResult).idToken)).to.include({
      tenantId: 'globex',
      tier: 'starter',
    });

    // A generated password is given once: asking again changes nothing.
    const again = (await run(['user', 'create', 'admin@globex.test', '--tenant', 'globex', '--json'], home))
      .json as UserCreateResult;
    expect(again).to.include({ created: false, passwordSet: false });
    expect(again).not.to.have.property('generatedPassword');
  });
});
