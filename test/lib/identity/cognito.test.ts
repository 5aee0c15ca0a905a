import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminGetUserCommand,
  CreateGroupCommand,
  GetGroupCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { expect } from 'chai';

import {
  ensureAdminUser,
  ensureTenantGroup,
  tenantGroupName,
  type AdminUserRequest,
} from '../../../src/lib/identity/cognito.js';
import { awsError, cognito, cognitoClient, rejectionOf } from '../helpers/aws.js';

const POOL = 'us-east-1_Pool1';

const request: AdminUserRequest = {
  userPoolId: POOL,
  tenantId: 'acme',
  tier: 'pro',
  email: 'ops@acme.example',
  suppressInvitation: false,
};

function userOf(tenantId?: string): { Username: string; UserAttributes: { Name: string; Value: string }[] } {
  return {
    Username: 'ops@acme.example',
    UserAttributes: [
      { Name: 'email', Value: 'ops@acme.example' },
      ...(tenantId ? [{ Name: 'custom:tenantId', Value: tenantId }] : []),
    ],
  };
}

describe('Cognito tenant identity', () => {
  let client: CognitoIdentityProviderClient;

  beforeEach(() => {
    cognito.reset();
    client = cognitoClient();
  });

  it('names the tenant group tenant-<id>', () => {
    expect(tenantGroupName('acme')).to.equal('tenant-acme');
  });

  describe('ensureTenantGroup', () => {
    it('creates nothing when the group exists', async () => {
      cognito.on(GetGroupCommand).resolves({ Group: { GroupName: 'tenant-acme', UserPoolId: POOL } });

      expect(await ensureTenantGroup(client, POOL, 'acme')).to.equal(false);
      expect(cognito.commandCalls(GetGroupCommand)[0].args[0].input).to.deep.equal({
        UserPoolId: POOL,
        GroupName: 'tenant-acme',
      });
      expect(cognito.commandCalls(CreateGroupCommand)).to.have.length(0);
    });

    it('creates the group when it is not found', async () => {
      cognito.on(GetGroupCommand).rejects(awsError('ResourceNotFoundException'));
      cognito.on(CreateGroupCommand).resolves({});

      expect(await ensureTenantGroup(client, POOL, 'acme')).to.equal(true);
      expect(cognito.commandCalls(CreateGroupCommand)).to.have.length(1);
      expect(cognito.commandCalls(CreateGroupCommand)[0].args[0].input).to.deep.equal({
        UserPoolId: POOL,
        GroupName: 'tenant-acme',
        Description: 'Users of tenant acme',
      });
    });

    it('reports the group as existing when a concurrent onboarding created it first', async () => {
      cognito.on(GetGroupCommand).rejects(awsError('ResourceNotFoundException'));
      cognito.on(CreateGroupCommand).rejects(awsError('GroupExistsException'));

      expect(await ensureTenantGroup(client, POOL, 'acme')).to.equal(false);
    });

    it('passes on any other lookup failure without creating', async () => {
      cognito.on(GetGroupCommand).rejects(awsError('NotAuthorizedException'));

      let failure: unknown;
      await ensureTenantGroup(client, POOL, 'acme').catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'NotAuthorizedException');
      expect(cognito.commandCalls(CreateGroupCommand)).to.have.length(0);
    });

    it('passes on any other create failure', async () => {
      cognito.on(GetGroupCommand).rejects(awsError('ResourceNotFoundException'));
      cognito.on(CreateGroupCommand).rejects(awsError('LimitExceededException'));

      let failure: unknown;
      await ensureTenantGroup(client, POOL, 'acme').catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'LimitExceededException');
    });
  });

  describe('ensureAdminUser', () => {
    const addToGroup = { UserPoolId: POOL, Username: 'ops@acme.example', GroupName: 'tenant-acme' };

    it('creates the user with its tenant claims, sends the invitation and adds it to the group', async () => {
      cognito.on(AdminGetUserCommand).rejects(awsError('UserNotFoundException'));
      cognito.on(AdminCreateUserCommand).resolves({});
      cognito.on(AdminAddUserToGroupCommand).resolves({});

      expect(await ensureAdminUser(client, request)).to.deep.equal({
        created: true,
        username: 'ops@acme.example',
      });
      expect(cognito.commandCalls(AdminGetUserCommand)[0].args[0].input).to.deep.equal({
        UserPoolId: POOL,
        Username: 'ops@acme.example',
      });
      expect(cognito.commandCalls(AdminCreateUserCommand)[0].args[0].input).to.deep.equal({
        UserPoolId: POOL,
        Username: 'ops@acme.example',
        UserAttributes: [
          { Name: 'email', Value: 'ops@acme.example' },
          { Name: 'email_verified', Value: 'true' },
          { Name: 'custom:tenantId', Value: 'acme' },
          { Name: 'custom:tier', Value: 'pro' },
        ],
        DesiredDeliveryMediums: ['EMAIL'],
      });
      expect(cognito.commandCalls(AdminAddUserToGroupCommand)[0].args[0].input).to.deep.equal(addToGroup);
    });

    it('suppresses the invitation message only when asked to', async () => {
      cognito.on(AdminGetUserCommand).rejects(awsError('UserNotFoundException'));
      cognito.on(AdminCreateUserCommand).resolves({});
      cognito.on(AdminAddUserToGroupCommand).resolves({});

      await ensureAdminUser(client, { ...request, suppressInvitation: true });

      expect(cognito.commandCalls(AdminCreateUserCommand)[0].args[0].input).to.include({
        MessageAction: 'SUPPRESS',
      });
    });

    it('creates nothing for a user of the same tenant but still ensures its group membership', async () => {
      cognito.on(AdminGetUserCommand).resolves(userOf('acme'));
      cognito.on(AdminAddUserToGroupCommand).resolves({});

      expect(await ensureAdminUser(client, request)).to.deep.equal({
        created: false,
        username: 'ops@acme.example',
      });
      expect(cognito.commandCalls(AdminCreateUserCommand)).to.have.length(0);
      expect(cognito.commandCalls(AdminAddUserToGroupCommand)[0].args[0].input).to.deep.equal(addToGroup);
    });

    it('refuses an address that belongs to another tenant with exit 4 ADMIN_EMAIL_TAKEN', async () => {
      cognito.on(AdminGetUserCommand).resolves(userOf('globex'));

      const err = await rejectionOf(ensureAdminUser(client, request));

      expect(err.code).to.equal('ADMIN_EMAIL_TAKEN');
      expect(err.exitCode).to.equal(4);
      expect(err.message).to.equal(
        'The user ops@acme.example already belongs to tenant "globex"; a user belongs to one tenant.',
      );
      expect(err.actions).to.deep.equal(['Choose another --admin-email for this tenant.']);
      expect(cognito.commandCalls(AdminCreateUserCommand)).to.have.length(0);
      expect(cognito.commandCalls(AdminAddUserToGroupCommand)).to.have.length(0);
    });

    it('refuses an address whose user has no tenant at all', async () => {
      cognito.on(AdminGetUserCommand).resolves(userOf(undefined));

      const err = await rejectionOf(ensureAdminUser(client, request));

      expect(err.code).to.equal('ADMIN_EMAIL_TAKEN');
      expect(err.message).to.include('already belongs to tenant "(none)"');
      expect(cognito.commandCalls(AdminAddUserToGroupCommand)).to.have.length(0);
    });

    it('re-reads the user after losing a creation race and adopts it when it is the same tenant', async () => {
      cognito
        .on(AdminGetUserCommand)
        .rejectsOnce(awsError('UserNotFoundException'))
        .resolvesOnce(userOf('acme'));
      cognito.on(AdminCreateUserCommand).rejects(awsError('UsernameExistsException'));
      cognito.on(AdminAddUserToGroupCommand).resolves({});

      expect(await ensureAdminUser(client, request)).to.deep.equal({
        created: false,
        username: 'ops@acme.example',
      });
      expect(cognito.commandCalls(AdminGetUserCommand)).to.have.length(2);
      expect(cognito.commandCalls(AdminAddUserToGroupCommand)[0].args[0].input).to.deep.equal(addToGroup);
    });

    it('refuses the address when another tenant won the creation race', async () => {
      cognito
        .on(AdminGetUserCommand)
        .rejectsOnce(awsError('UserNotFoundException'))
        .resolvesOnce(userOf('globex'));
      cognito.on(AdminCreateUserCommand).rejects(awsError('UsernameExistsException'));

      const err = await rejectionOf(ensureAdminUser(client, request));

      expect(err.code).to.equal('ADMIN_EMAIL_TAKEN');
      expect(cognito.commandCalls(AdminAddUserToGroupCommand)).to.have.length(0);
    });

    it('passes on a lookup failure other than a missing user without creating', async () => {
      cognito.on(AdminGetUserCommand).rejects(awsError('TooManyRequestsException'));

      let failure: unknown;
      await ensureAdminUser(client, request).catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'TooManyRequestsException');
      expect(cognito.commandCalls(AdminCreateUserCommand)).to.have.length(0);
    });
  });
});
