import type { AttributeType, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';

import { conflict, isAwsError } from '../cli/errors.js';
import { sdk } from '../platform/sdk.js';

export const TENANT_ID_ATTRIBUTE = 'custom:tenantId';
export const TIER_ATTRIBUTE = 'custom:tier';

export function tenantGroupName(tenantId: string): string {
  return `tenant-${tenantId}`;
}

/** Creates the tenant's group unless it exists. Returns whether it was created. */
export async function ensureTenantGroup(
  cognito: CognitoIdentityProviderClient,
  userPoolId: string,
  tenantId: string,
): Promise<boolean> {
  const GroupName = tenantGroupName(tenantId);
  try {
    await cognito.send(new (sdk.cognito().GetGroupCommand)({ UserPoolId: userPoolId, GroupName }));
    return false;
  } catch (err) {
    if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
  }
  try {
    await cognito.send(
      new (sdk.cognito().CreateGroupCommand)({
        UserPoolId: userPoolId,
        GroupName,
        Description: `Users of tenant ${tenantId}`,
      }),
    );
    return true;
  } catch (err) {
    // Another onboarding of the same tenant created it between our look and our create.
    if (isAwsError(err, 'GroupExistsException')) return false;
    throw err;
  }
}

export interface TenantUserRequest {
  readonly userPoolId: string;
  readonly tenantId: string;
  readonly tier: string;
  readonly email: string;
  /** Suppress Cognito's invitation message (the local stack has no mail). */
  readonly suppressInvitation: boolean;
}

/** What a user of another tenant with the same address is reported as: a code and a remedy. */
export interface UserConflict {
  readonly code: string;
  readonly action: string;
}

export interface TenantUser {
  readonly created: boolean;
  readonly username: string;
  /** Cognito's UserStatus (FORCE_CHANGE_PASSWORD until a permanent password is set); absent when unknown. */
  readonly status?: string;
}

/**
 * Creates a user of the tenant with its tenant claims set server-side (app clients cannot write
 * custom:tenantId or custom:tier), and puts it in the tenant's group. The same user of the same
 * tenant again is success (created: false); a user with that address who belongs to another
 * tenant, or to none, is a conflict: a user belongs to one tenant.
 */
export async function ensureTenantUser(
  cognito: CognitoIdentityProviderClient,
  request: TenantUserRequest,
  onConflict: UserConflict = { code: 'USER_EMAIL_TAKEN', action: 'Choose another email for this user.' },
): Promise<TenantUser> {
  const { userPoolId: UserPoolId, email: Username } = request;
  let created = false;
  let user = await getUser(cognito, UserPoolId, Username);
  if (!user) {
    try {
      await cognito.send(
        new (sdk.cognito().AdminCreateUserCommand)({
          UserPoolId,
          Username,
          UserAttributes: [
            { Name: 'email', Value: request.email },
            { Name: 'email_verified', Value: 'true' },
            { Name: TENANT_ID_ATTRIBUTE, Value: request.tenantId },
            { Name: TIER_ATTRIBUTE, Value: request.tier },
          ],
          DesiredDeliveryMediums: ['EMAIL'],
          ...(request.suppressInvitation ? { MessageAction: 'SUPPRESS' as const } : {}),
        }),
      );
      created = true;
    } catch (err) {
      if (!isAwsError(err, 'UsernameExistsException')) throw err;
      user = await getUser(cognito, UserPoolId, Username);
    }
  }
  const owner = user?.attributes.find((a) => a.Name === TENANT_ID_ATTRIBUTE)?.Value;
  if (user && owner !== request.tenantId) {
    throw conflict(
      onConflict.code,
      `The user ${request.email} already belongs to tenant "${owner ?? '(none)'}"; a user belongs to one tenant.`,
      [onConflict.action],
    );
  }
  await cognito.send(
    new (sdk.cognito().AdminAddUserToGroupCommand)({
      UserPoolId,
      Username,
      GroupName: tenantGroupName(request.tenantId),
    }),
  );
  // AdminCreateUser makes a user that must change its password; a user we found says its own.
  const status = created ? 'FORCE_CHANGE_PASSWORD' : user?.status;
  return { created, username: Username, ...(status ? { status } : {}) };
}

/** The admin is a tenant user like any other; only its conflict is reported differently. */
export type AdminUserRequest = TenantUserRequest;

/** Creates the tenant's admin user (onboarding): `ensureTenantUser` with the admin's conflict code. */
export async function ensureAdminUser(
  cognito: CognitoIdentityProviderClient,
  request: AdminUserRequest,
): Promise<{ created: boolean; username: string }> {
  const { created, username } = await ensureTenantUser(cognito, request, {
    code: 'ADMIN_EMAIL_TAKEN',
    action: 'Choose another --admin-email for this tenant.',
  });
  return { created, username };
}

async function getUser(
  cognito: CognitoIdentityProviderClient,
  UserPoolId: string,
  Username: string,
): Promise<{ attributes: AttributeType[]; status?: string } | undefined> {
  try {
    const user = await cognito.send(new (sdk.cognito().AdminGetUserCommand)({ UserPoolId, Username }));
    return { attributes: user.UserAttributes ?? [], ...(user.UserStatus ? { status: user.UserStatus } : {}) };
  } catch (err) {
    if (isAwsError(err, 'UserNotFoundException')) return undefined;
    throw err;
  }
}

/**
 * Deletes every user of the tenant's group, then the group. Already gone is success. Returns
 * how many users were deleted.
 */
export async function deleteTenantIdentity(
  cognito: CognitoIdentityProviderClient,
  userPoolId: string,
  tenantId: string,
): Promise<{ usersDeleted: number; groupDeleted: boolean }> {
  const idp = sdk.cognito();
  const GroupName = tenantGroupName(tenantId);
  let usersDeleted = 0;
  for (;;) {
    let page;
    try {
      // Always the first page: the users on it are deleted before the next look.
      page = await cognito.send(
        new idp.ListUsersInGroupCommand({ UserPoolId: userPoolId, GroupName, Limit: 60 }),
      );
    } catch (err) {
      if (isAwsError(err, 'ResourceNotFoundException')) return { usersDeleted, groupDeleted: false };
      throw err;
    }
    const users = (page.Users ?? []).filter((u) => u.Username);
    let deletedNow = 0;
    for (const user of users) {
      try {
        await cognito.send(
          new idp.AdminDeleteUserCommand({ UserPoolId: userPoolId, Username: user.Username }),
        );
        deletedNow++;
      } catch (err) {
        if (!isAwsError(err, 'UserNotFoundException')) throw err;
      }
    }
    usersDeleted += deletedNow;
    // An empty page, or one whose users were already gone (a listing lagging behind): done.
    if (deletedNow === 0) break;
  }
  try {
    await cognito.send(new idp.DeleteGroupCommand({ UserPoolId: userPoolId, GroupName }));
    return { usersDeleted, groupDeleted: true };
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return { usersDeleted, groupDeleted: false };
    throw err;
  }
}
