import {
  AdminDeleteUserCommand,
  DeleteGroupCommand,
  ListUsersInGroupCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { expect } from 'chai';

import { deleteTenantIdentity } from '../../../src/lib/identity/cognito.js';
import { awsError, cognito, cognitoClient } from '../helpers/aws.js';

const POOL = 'us-east-1_Pool1';
const listInput = { UserPoolId: POOL, GroupName: 'tenant-acme', Limit: 60 };

const users = (...names: string[]) => ({ Users: names.map((Username) => ({ Username })) });

describe('deleteTenantIdentity', () => {
  const deletedUsers = () => cognito.commandCalls(AdminDeleteUserCommand).map((c) => c.args[0].input);

  beforeEach(() => {
    cognito.reset();
  });

  it('reads the first page of the group again until it is empty, deleting each user, then the group', async () => {
    cognito
      .on(ListUsersInGroupCommand)
      .resolvesOnce(users('ops@acme.example', 'dev@acme.example'))
      .resolvesOnce(users('qa@acme.example'))
      .resolvesOnce({ Users: [] });
    cognito.on(AdminDeleteUserCommand).resolves({});
    cognito.on(DeleteGroupCommand).resolves({});

    expect(await deleteTenantIdentity(cognitoClient(), POOL, 'acme')).to.deep.equal({
      usersDeleted: 3,
      groupDeleted: true,
    });
    // Always the first page: no pagination token, since the users on it are gone by the next look.
    expect(cognito.commandCalls(ListUsersInGroupCommand).map((c) => c.args[0].input)).to.deep.equal([
      listInput,
      listInput,
      listInput,
    ]);
    expect(deletedUsers()).to.deep.equal([
      { UserPoolId: POOL, Username: 'ops@acme.example' },
      { UserPoolId: POOL, Username: 'dev@acme.example' },
      { UserPoolId: POOL, Username: 'qa@acme.example' },
    ]);
    expect(cognito.commandCalls(DeleteGroupCommand).map((c) => c.args[0].input)).to.deep.equal([
      { UserPoolId: POOL, GroupName: 'tenant-acme' },
    ]);
  });

  it('deletes an empty group', async () => {
    cognito.on(ListUsersInGroupCommand).resolves({});
    cognito.on(DeleteGroupCommand).resolves({});

    expect(await deleteTenantIdentity(cognitoClient(), POOL, 'acme')).to.deep.equal({
      usersDeleted: 0,
      groupDeleted: true,
    });
    expect(deletedUsers()).to.have.length(0);
    expect(cognito.commandCalls(DeleteGroupCommand)).to.have.length(1);
  });

  it('succeeds without deleting anything when the group is already gone', async () => {
    cognito.on(ListUsersInGroupCommand).rejects(awsError('ResourceNotFoundException'));

    expect(await deleteTenantIdentity(cognitoClient(), POOL, 'acme')).to.deep.equal({
      usersDeleted: 0,
      groupDeleted: false,
    });
    expect(deletedUsers()).to.have.length(0);
    expect(cognito.commandCalls(DeleteGroupCommand)).to.have.length(0);
  });

  it('does not count a user someone else deleted first, and carries on', async () => {
    cognito
      .on(ListUsersInGroupCommand)
      .resolvesOnce(users('gone@acme.example', 'ops@acme.example'))
      .resolves({ Users: [] });
    cognito
      .on(AdminDeleteUserCommand, { Username: 'gone@acme.example' })
      .rejects(awsError('UserNotFoundException'));
    cognito.on(AdminDeleteUserCommand, { Username: 'ops@acme.example' }).resolves({});
    cognito.on(DeleteGroupCommand).resolves({});

    expect(await deleteTenantIdentity(cognitoClient(), POOL, 'acme')).to.deep.equal({
      usersDeleted: 1,
      groupDeleted: true,
    });
    expect(deletedUsers().map((input) => input.Username)).to.deep.equal([
      'gone@acme.example',
      'ops@acme.example',
    ]);
  });

  it('reports the group as not deleted when it vanished between the last look and DeleteGroup', async () => {
    cognito.on(ListUsersInGroupCommand).resolves({ Users: [] });
    cognito.on(DeleteGroupCommand).rejects(awsError('ResourceNotFoundException'));

    expect(await deleteTenantIdentity(cognitoClient(), POOL, 'acme')).to.deep.equal({
      usersDeleted: 0,
      groupDeleted: false,
    });
  });

  it('passes on a user deletion failure other than a missing user, leaving the group', async () => {
    cognito.on(ListUsersInGroupCommand).resolves(users('ops@acme.example'));
    cognito.on(AdminDeleteUserCommand).rejects(awsError('TooManyRequestsException'));

    let failure: unknown;
    await deleteTenantIdentity(cognitoClient(), POOL, 'acme').catch((err: unknown) => (failure = err));

    expect(failure).to.have.property('name', 'TooManyRequestsException');
    expect(cognito.commandCalls(DeleteGroupCommand)).to.have.length(0);
  });
});
