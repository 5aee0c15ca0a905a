import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminSetUserPasswordCommand,
  InitiateAuthCommand,
  type AdminGetUserCommandOutput,
} from '@aws-sdk/client-cognito-identity-provider';
import { expect } from 'chai';

import { localAuthorizerConfig, localTokenIssuer } from '../../../src/lib/identity/issuer.js';
import {
  createUser,
  generatePassword,
  loginUser,
  passwordProblem,
  type UserDependencies,
} from '../../../src/lib/identity/users.js';
import type { AuditRecord, Tenant, TenantStatus } from '../../../src/lib/tenants/model.js';
import { awsError, cognito, cognitoClient, rejectionOf } from '../helpers/aws.js';

const POOL = { id: 'us-east-1_Pool1', clientId: 'client-1' };
const EMAIL = 'dev@acme.test';

function tenant(status: TenantStatus = 'ACTIVE'): Tenant {
  return {
    tenantId: 'acme',
    name: 'Acme',
    tier: 'pro',
    isolation: 'pool',
    status,
    region: 'us-east-1',
    adminEmail: 'admin@acme.test',
    version: 3,
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
  };
}

/** A catalog that holds one tenant and keeps the events recorded on it. */
function catalogOf(record: Tenant | undefined) {
  const events: { tenantId: string; event: Record<string, unknown> }[] = [];
  return {
    events,
    catalog: {
      get: async (id: string) => (record && id === record.tenantId ? record : undefined),
      recordEvent: async (tenantId: string, event: Record<string, unknown>) => {
        events.push({ tenantId, event });
        return {} as AuditRecord;
      },
    } as unknown as UserDependencies['catalog'],
  };
}

function depsFor(target: 'local' | 'aws', record: Tenant | null = tenant()) {
  const { catalog, events } = catalogOf(record ?? undefined);
  let opened = 0;
  const deps: UserDependencies = {
    target,
    cognito: cognitoClient(),
    userPool: POOL,
    catalog,
    actor: async () => 'local:tester',
  };
  return {
    events,
    opened: () => opened,
    open: async () => {
      opened++;
      return deps;
    },
  };
}

function existing(tenantId: string, status = 'CONFIRMED'): AdminGetUserCommandOutput {
  return {
    Username: 'a1b2c3',
    UserStatus: status,
    UserAttributes: [
      { Name: 'email', Value: EMAIL },
      { Name: 'custom:tenantId', Value: tenantId },
    ],
  } as AdminGetUserCommandOutput;
}

function jwt(payload: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'CognitoLocal' })}.${part(payload)}.c2ln`;
}

const created = {
  UserPoolId: POOL.id,
  Username: EMAIL,
  UserAttributes: [
    { Name: 'email', Value: EMAIL },
    { Name: 'email_verified', Value: 'true' },
    { Name: 'custom:tenantId', Value: 'acme' },
    { Name: 'custom:tier', Value: 'pro' },
  ],
  DesiredDeliveryMediums: ['EMAIL'],
};

describe('users (identity)', () => {
  beforeEach(() => {
    cognito.reset();
  });

  describe('createUser', () => {
    beforeEach(() => {
      cognito.on(AdminGetUserCommand).rejects(awsError('UserNotFoundException'));
      cognito.on(AdminCreateUserCommand).resolves({});
      cognito.on(AdminAddUserToGroupCommand).resolves({});
      cognito.on(AdminSetUserPasswordCommand).resolves({});
    });

    it('creates a local user without invitation, in the tenant group, with a generated permanent password', async () => {
      const { open, events } = depsFor('local');

      const result = await createUser(open, { email: 'Dev@Acme.test', tenantId: 'acme' });

      expect(cognito.commandCalls(AdminCreateUserCommand)[0].args[0].input).to.deep.equal({
        ...created,
        MessageAction: 'SUPPRESS',
      });
      expect(cognito.commandCalls(AdminAddUserToGroupCommand)[0].args[0].input).to.deep.equal({
        UserPoolId: POOL.id,
        Username: EMAIL,
        GroupName: 'tenant-acme',
      });
      const password = result.generatedPassword ?? '';
      expect(passwordProblem(password)).to.equal(undefined);
      expect(cognito.commandCalls(AdminSetUserPasswordCommand)[0].args[0].input).to.deep.equal({
        UserPoolId: POOL.id,
        Username: EMAIL,
        Password: password,
        Permanent: true,
      });
      expect(result).to.deep.equal({
        email: EMAIL,
        tenantId: 'acme',
        tier: 'pro',
        username: EMAIL,
        created: true,
        invitation: 'suppressed',
        passwordSet: true,
        generatedPassword: password,
      });
      expect(events).to.deep.equal([
        {
          tenantId: 'acme',
          event: {
            action: 'user-create',
            actor: 'local:tester',
            changes: {
              user: { to: EMAIL },
              invitation: { to: 'suppressed' },
              password: { to: 'generated, permanent' },
            },
          },
        },
      ]);
      expect(JSON.stringify(events)).not.to.include(password);
    });

    it('sets the given password locally and generates none', async () => {
      const { open } = depsFor('local');

      const result = await createUser(open, { email: EMAIL, tenantId: 'acme', password: 'Correct-Horse-9' });

      expect(result.generatedPassword).to.equal(undefined);
      expect(result.passwordSet).to.equal(true);
      expect(cognito.commandCalls(AdminSetUserPasswordCommand)[0].args[0].input).to.include({
        Password: 'Correct-Horse-9',
        Permanent: true,
      });
    });

    it('lets Cognito email the invitation on aws and sets no password', async () => {
      const { open, events } = depsFor('aws');

      const result = await createUser(open, { email: EMAIL, tenantId: 'acme' });

      expect(cognito.commandCalls(AdminCreateUserCommand)[0].args[0].input).to.deep.equal(created);
      expect(cognito.commandCalls(AdminSetUserPasswordCommand)).to.have.length(0);
      expect(result).to.include({ created: true, invitation: 'sent', passwordSet: false });
      expect(result).not.to.have.property('generatedPassword');
      expect(events[0].event).to.deep.include({
        action: 'user-create',
        changes: { user: { to: EMAIL }, invitation: { to: 'sent' } },
      });
    });

    it('on aws with --password suppresses the invitation and sets the password permanent', async () => {
      const { open } = depsFor('aws');

      const result = await createUser(open, { email: EMAIL, tenantId: 'acme', password: 'Correct-Horse-9' });

      expect(cognito.commandCalls(AdminCreateUserCommand)[0].args[0].input).to.deep.equal({
        ...created,
        MessageAction: 'SUPPRESS',
      });
      expect(cognito.commandCalls(AdminSetUserPasswordCommand)[0].args[0].input).to.include({
        Permanent: true,
      });
      expect(result).to.include({ invitation: 'suppressed', passwordSet: true });
    });

    it('is idempotent: the same user of the same tenant again creates and audits nothing', async () => {
      cognito.on(AdminGetUserCommand).resolves(existing('acme'));
      const { open, events } = depsFor('local');

      const result = await createUser(open, { email: EMAIL, tenantId: 'acme' });

      expect(result).to.include({ created: false, invitation: 'none', passwordSet: false });
      expect(cognito.commandCalls(AdminCreateUserCommand)).to.have.length(0);
      expect(cognito.commandCalls(AdminSetUserPasswordCommand)).to.have.length(0);
      expect(cognito.commandCalls(AdminAddUserToGroupCommand)).to.have.length(1);
      expect(events).to.deep.equal([]);
    });

    it("gives a local user that never had a permanent password one (onboarding's admin)", async () => {
      cognito.on(AdminGetUserCommand).resolves(existing('acme', 'FORCE_CHANGE_PASSWORD'));
      const { open, events } = depsFor('local');

      const result = await createUser(open, { email: EMAIL, tenantId: 'acme' });

      expect(result.created).to.equal(false);
      expect(passwordProblem(result.generatedPassword ?? '')).to.equal(undefined);
      expect(events[0].event).to.deep.include({
        action: 'user-password',
        changes: { user: { to: EMAIL }, password: { to: 'generated, permanent' } },
      });
    });

    it("refuses another tenant's user with exit 4 USER_EMAIL_TAKEN and changes nothing", async () => {
      cognito.on(AdminGetUserCommand).resolves(existing('globex'));
      const { open, events } = depsFor('local');

      const err = await rejectionOf(createUser(open, { email: EMAIL, tenantId: 'acme' }));

      expect(err.code).to.equal('USER_EMAIL_TAKEN');
      expect(err.exitCode).to.equal(4);
      expect(err.message).to.include('already belongs to tenant "globex"');
      expect(cognito.commandCalls(AdminAddUserToGroupCommand)).to.have.length(0);
      expect(cognito.commandCalls(AdminSetUserPasswordCommand)).to.have.length(0);
      expect(events).to.deep.equal([]);
    });

    it('refuses a bad email, a bad tenant id or a weak password with exit 2 before opening anything', async () => {
      const { open, opened } = depsFor('local');
      for (const [request, code] of [
        [{ email: 'not-an-email', tenantId: 'acme' }, 'INVALID_EMAIL'],
        [{ email: EMAIL, tenantId: 'Acme!' }, 'INVALID_TENANT_ID'],
        [{ email: EMAIL, tenantId: 'acme', password: 'short1A!' }, 'INVALID_PASSWORD'],
        [{ email: EMAIL, tenantId: 'acme', password: 'nouppercase-123' }, 'INVALID_PASSWORD'],
      ] as const) {
        const err = await rejectionOf(createUser(open, request));
        expect(err.code).to.equal(code);
        expect(err.exitCode).to.equal(2);
      }
      expect(opened()).to.equal(0);
      expect(cognito.calls()).to.have.length(0);
    });

    it('refuses an unknown tenant (exit 3) and a suspended one (exit 4) before any Cognito call', async () => {
      const unknown = await rejectionOf(
        createUser(depsFor('local', null).open, { email: EMAIL, tenantId: 'acme' }),
      );
      expect([unknown.code, unknown.exitCode]).to.deep.equal(['TENANT_NOT_FOUND', 3]);

      const suspended = await rejectionOf(
        createUser(depsFor('local', tenant('SUSPENDED')).open, { email: EMAIL, tenantId: 'acme' }),
      );
      expect([suspended.code, suspended.exitCode]).to.deep.equal(['TENANT_NOT_ACTIVE', 4]);
      expect(cognito.calls()).to.have.length(0);
    });

    it("reports Cognito's refusal of a password as a usage error", async () => {
      cognito
        .on(AdminSetUserPasswordCommand)
        .rejects(awsError('InvalidPasswordException', 'Password not long enough'));
      const err = await rejectionOf(
        createUser(depsFor('aws').open, { email: EMAIL, tenantId: 'acme', password: 'Correct-Horse-9' }),
      );
      expect([err.code, err.exitCode]).to.deep.equal(['INVALID_PASSWORD', 2]);
    });
  });

  describe('loginUser', () => {
    const login = (password = 'Correct-Horse-9') =>
      loginUser(depsFor('local').open, { email: EMAIL, password });

    it('signs in with USER_PASSWORD_AUTH on the app client and reports the tenant of the ID token', async () => {
      const idToken = jwt({ token_use: 'id', tenantId: 'acme', 'custom:tenantId': 'acme' });
      const accessToken = jwt({ token_use: 'access', iat: 1000, exp: 4600 });
      cognito
        .on(InitiateAuthCommand)
        .resolves({ AuthenticationResult: { AccessToken: accessToken, IdToken: idToken } });

      const result = await login();

      expect(cognito.commandCalls(InitiateAuthCommand)[0].args[0].input).to.deep.equal({
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: POOL.clientId,
        AuthParameters: { USERNAME: EMAIL, PASSWORD: 'Correct-Horse-9' },
      });
      // cognito-local sends neither ExpiresIn nor TokenType: taken from the token, and Bearer.
      expect(result).to.deep.equal({
        accessToken,
        idToken,
        expiresIn: 3600,
        tokenType: 'Bearer',
        tenantId: 'acme',
      });
    });

    it("keeps Cognito's ExpiresIn and TokenType when it sends them", async () => {
      cognito.on(InitiateAuthCommand).resolves({
        AuthenticationResult: { AccessToken: jwt({}), IdToken: jwt({}), ExpiresIn: 60, TokenType: 'Bearer' },
      });
      expect(await login()).to.deep.include({ expiresIn: 60, tokenType: 'Bearer' });
    });

    for (const name of ['NotAuthorizedException', 'InvalidPasswordException', 'UserNotFoundException']) {
      it(`maps ${name} to UNAUTHORIZED, exit 1`, async () => {
        cognito.on(InitiateAuthCommand).rejects(awsError(name));
        const err = await rejectionOf(login('Wrong-Horse-9'));
        expect([err.code, err.exitCode]).to.deep.equal(['UNAUTHORIZED', 1]);
        expect(err.message).to.equal(`Sign-in refused for ${EMAIL}: wrong email or password.`);
      });
    }

    it("maps a failed pre-token trigger to LOGIN_REFUSED, exit 4, with the trigger's reason", async () => {
      cognito
        .on(InitiateAuthCommand)
        .rejects(
          awsError(
            'UserLambdaValidationException',
            'PreTokenGeneration failed with error Tenant "acme" is SUSPENDED: its users get no token..',
          ),
        );
      const err = await rejectionOf(login());
      expect([err.code, err.exitCode]).to.deep.equal(['LOGIN_REFUSED', 4]);
      expect(err.message).to.include('is SUSPENDED');
    });

    it('refuses a user that still has its invitation password (NEW_PASSWORD_REQUIRED) with exit 4', async () => {
      cognito.on(InitiateAuthCommand).resolves({ ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 's' });
      const err = await rejectionOf(login());
      expect([err.code, err.exitCode]).to.deep.equal(['PASSWORD_CHANGE_REQUIRED', 4]);
    });

    it('refuses a bad email or an empty password with exit 2 before opening anything', async () => {
      const { open, opened } = depsFor('local');
      expect((await rejectionOf(loginUser(open, { email: 'nope', password: 'x' }))).exitCode).to.equal(2);
      expect((await rejectionOf(loginUser(open, { email: EMAIL, password: '' }))).exitCode).to.equal(2);
      expect(opened()).to.equal(0);
    });
  });

  describe('passwords', () => {
    it('generates passwords that meet the pool policy, all different', () => {
      const passwords = Array.from({ length: 300 }, () => generatePassword());
      expect(passwords.filter((p) => passwordProblem(p) !== undefined)).to.deep.equal([]);
      expect(new Set(passwords).size).to.equal(300);
    });

    it('names the rule a password breaks', () => {
      expect(passwordProblem('Aa1-short')).to.include('fewer than 12');
      expect(passwordProblem('ALLUPPER-123')).to.equal('it has no lowercase letter');
      expect(passwordProblem('alllower-123')).to.equal('it has no uppercase letter');
      expect(passwordProblem('NoDigits-here')).to.equal('it has no digit');
      expect(passwordProblem('NoSymbols1234')).to.equal('it has no symbol');
      expect(passwordProblem(' Leading-space1')).to.equal('it starts or ends with a space');
      expect(passwordProblem('Correct-Horse-9')).to.equal(undefined);
    });
  });

  describe('local token issuer', () => {
    it("names cognito-local's issuer and JWKS from its endpoint and pool", () => {
      expect(localTokenIssuer('http://127.0.0.1:4321/', 'local_abc')).to.deep.equal({
        issuer: 'http://127.0.0.1:4321/local_abc',
        jwksUri: 'http://127.0.0.1:4321/local_abc/.well-known/jwks.json',
      });
    });

    it('refuses a stack without cognito', async () => {
      const err = await rejectionOf(localAuthorizerConfig({ endpoints: {}, platform: { userPool: POOL } }));
      expect(err.code).to.equal('COGNITO_NOT_STARTED');
    });
  });
});
