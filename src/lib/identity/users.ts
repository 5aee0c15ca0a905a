import { randomInt } from 'node:crypto';

import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';

import { conflict, ExitCode, isAwsError, notFound, SaasctlError, usageError } from '../cli/errors.js';
import type { PlatformConfig } from '../platform/config.js';
import type { Platform } from '../platform/platform.js';
import { sdk } from '../platform/sdk.js';
import type { TenantCatalog } from '../tenants/catalog.js';
import { catalogs } from '../tenants/context.js';
import { assertEmail, assertTenantId, type AuditRecord } from '../tenants/model.js';
import { ensureTenantUser, TENANT_ID_ATTRIBUTE } from './cognito.js';

/**
 * `user create` and `user login`: the platform user pool's users, each of one tenant. Creating
 * sets the tenant claims server-side and the tenant's group (as onboarding does for the admin);
 * signing in is USER_PASSWORD_AUTH with the pool's app client, through the pre-token trigger,
 * which refuses users of a tenant that may not sign in.
 */

/** What the user commands work with; `userDependencies` builds it from a platform. */
export interface UserDependencies {
  readonly target: 'local' | 'aws';
  readonly cognito: CognitoIdentityProviderClient;
  readonly userPool: PlatformConfig['userPool'];
  readonly catalog: Pick<TenantCatalog, 'get' | 'recordEvent'>;
  readonly actor: () => Promise<string>;
}

export function userDependencies(platform: Platform): UserDependencies {
  return {
    target: platform.target.name,
    cognito: platform.clients.cognito(),
    userPool: platform.config.userPool,
    catalog: catalogs(platform).catalog,
    actor: () => platform.actor(),
  };
}

/**
 * The user pool's password policy as infra/lib/identity.ts deploys it. The local pool does not
 * enforce one, so saasctl checks it on both targets: a password that works locally works on AWS.
 */
export const PASSWORD_POLICY = {
  minLength: 12,
  maxLength: 256,
  rule: 'at least 12 characters with a lowercase letter, an uppercase letter, a digit and a symbol',
} as const;

// Cognito's symbols: ^ $ * . [ ] { } ( ) ? " ! @ # % & / \ , > < ' : ; | _ ~ ` = + - and space.
const SYMBOL = /[\^$*.[\]{}()?"!@#%&/\\,><':;|_~`=+\- ]/;

/** Why a password breaks the pool's policy, or undefined when it meets it. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < PASSWORD_POLICY.minLength)
    return `it has fewer than ${PASSWORD_POLICY.minLength} characters`;
  if (password.length > PASSWORD_POLICY.maxLength)
    return `it has more than ${PASSWORD_POLICY.maxLength} characters`;
  if (/^\s|\s$/.test(password)) return 'it starts or ends with a space';
  if (!/[a-z]/.test(password)) return 'it has no lowercase letter';
  if (!/[A-Z]/.test(password)) return 'it has no uppercase letter';
  if (!/[0-9]/.test(password)) return 'it has no digit';
  if (!SYMBOL.test(password)) return 'it has no symbol';
  return undefined;
}

// Without look-alikes (l 1 I O 0) and with symbols that need no quoting in a shell.
const PASSWORD_CLASSES = ['abcdefghijkmnopqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '-_.=+%@'];

/** A random 20-character password with every class the policy asks for (~118 bits). */
export function generatePassword(length = 20): string {
  const all = PASSWORD_CLASSES.join('');
  const chars = PASSWORD_CLASSES.map((set) => set[randomInt(set.length)]);
  while (chars.length < length) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

function assertPassword(password: string): string {
  const problem = passwordProblem(password);
  if (problem) {
    throw usageError('INVALID_PASSWORD', `The password does not meet the user pool's policy: ${problem}.`, [
      `Choose a password of ${PASSWORD_POLICY.rule}, or leave it out on the local target to get a generated one.`,
    ]);
  }
  return password;
}

export interface UserCreateRequest {
  readonly email: string;
  readonly tenantId: string;
  /** A permanent password to set. Local: generated when absent and the user has none yet. */
  readonly password?: string;
}

export interface UserCreateResult {
  readonly email: string;
  readonly tenantId: string;
  readonly tier: string;
  readonly username: string;
  /** False when the user already existed in this tenant (nothing created). */
  readonly created: boolean;
  /** Cognito's invitation email: `sent` (aws), `suppressed` (local, or a password was given), `none` (not created). */
  readonly invitation: 'sent' | 'suppressed' | 'none';
  /** Whether a permanent password was set by this call. */
  readonly passwordSet: boolean;
  /** Only when saasctl made it up: shown this once, stored nowhere else. */
  readonly generatedPassword?: string;
}

/**
 * Creates a user of an ACTIVE tenant, or confirms it. Locally there is no mail, so the
 * invitation is suppressed and a permanent password set: the one given, else a generated one
 * for a user that has none yet. On AWS Cognito mails the invitation (a temporary password),
 * unless a password is given: then it is set permanent and no invitation is sent (its
 * temporary password would no longer work). Audited on the tenant when anything changed.
 */
export async function createUser(
  open: () => Promise<UserDependencies>,
  request: UserCreateRequest,
): Promise<UserCreateResult> {
  const email = assertEmail(request.email);
  const tenantId = assertTenantId(request.tenantId);
  const given = request.password === undefined ? undefined : assertPassword(request.password);
  const deps = await open();
  const tenant = await deps.catalog.get(tenantId);
  if (!tenant) {
    throw notFound('TENANT_NOT_FOUND', `No tenant "${tenantId}" in the catalog.`, [
      'List tenants with `saasctl tenant list`.',
    ]);
  }
  if (tenant.status !== 'ACTIVE') {
    throw conflict(
      'TENANT_NOT_ACTIVE',
      `Tenant "${tenantId}" is ${tenant.status}: users are added to ACTIVE tenants only.`,
      [
        `See \`saasctl tenant show ${tenantId}\`; a suspended tenant is resumed with \`saasctl tenant resume\`.`,
      ],
    );
  }
  const local = deps.target === 'local';
  const suppressInvitation = local || given !== undefined;
  const user = await ensureTenantUser(
    deps.cognito,
    { userPoolId: deps.userPool.id, tenantId, tier: tenant.tier, email, suppressInvitation },
    { code: 'USER_EMAIL_TAKEN', action: 'A user belongs to one tenant: choose another email for this one.' },
  );
  // Locally a user without a permanent password could never sign in (no mail brings it one).
  const generatedPassword =
    given === undefined && local && user.status === 'FORCE_CHANGE_PASSWORD' ? generatePassword() : undefined;
  const password = given ?? generatedPassword;
  if (password !== undefined) {
    try {
      await deps.cognito.send(
        new (sdk.cognito().AdminSetUserPasswordCommand)({
          UserPoolId: deps.userPool.id,
          Username: user.username,
          Password: password,
          Permanent: true,
        }),
      );
    } catch (err) {
      // The deployed pool's policy may be stricter than the one saasctl checks.
      if (isAwsError(err, 'InvalidPasswordException')) {
        throw new SaasctlError(
          'INVALID_PASSWORD',
          `Cognito refused the password: ${(err as Error).message}`,
          {
            exitCode: ExitCode.usage,
            cause: err,
            actions: ['Run the command again with a password that meets the pool policy: the user is kept.'],
          },
        );
      }
      throw err;
    }
  }
  if (user.created || password !== undefined) {
    const changes: AuditRecord['changes'] = {
      user: { to: email },
      ...(user.created ? { invitation: { to: suppressInvitation ? 'suppressed' : 'sent' } } : {}),
      ...(password !== undefined
        ? { password: { to: generatedPassword ? 'generated, permanent' : 'given, permanent' } }
        : {}),
    };
    await deps.catalog.recordEvent(tenantId, {
      action: user.created ? 'user-create' : 'user-password',
      actor: await deps.actor(),
      changes,
    });
  }
  return {
    email,
    tenantId,
    tier: tenant.tier,
    username: user.username,
    created: user.created,
    invitation: user.created ? (suppressInvitation ? 'suppressed' : 'sent') : 'none',
    passwordSet: password !== undefined,
    ...(generatedPassword ? { generatedPassword } : {}),
  };
}

export interface UserLoginResult {
  readonly accessToken: string;
  readonly idToken: string;
  /** Seconds the access token is valid for. */
  readonly expiresIn: number;
  readonly tokenType: string;
  /** The tenant the ID token names (the pre-token trigger's `tenantId` claim). */
  readonly tenantId?: string;
}

/**
 * Signs a user in with USER_PASSWORD_AUTH on the pool's app client. The pre-token trigger
 * runs on the way: a user whose tenant may not sign in gets no token. A wrong password, an
 * unknown user and (on AWS) a disabled one are the same UNAUTHORIZED, whichever name the
 * service gives it (cognito-local answers a wrong password with InvalidPasswordException,
 * Cognito with NotAuthorizedException).
 */
export async function loginUser(
  open: () => Promise<Pick<UserDependencies, 'cognito' | 'userPool'>>,
  request: { readonly email: string; readonly password: string },
): Promise<UserLoginResult> {
  const email = assertEmail(request.email);
  if (request.password === '') throw usageError('PASSWORD_REQUIRED', 'The password is empty.');
  const deps = await open();
  let answer;
  try {
    answer = await deps.cognito.send(
      new (sdk.cognito().InitiateAuthCommand)({
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: deps.userPool.clientId,
        AuthParameters: { USERNAME: email, PASSWORD: request.password },
      }),
    );
  } catch (err) {
    throw loginError(email, err);
  }
  const tokens = answer.AuthenticationResult;
  if (!tokens?.AccessToken || !tokens.IdToken) throw challengeError(email, answer.ChallengeName);
  const id = jwtClaims(tokens.IdToken);
  const access = jwtClaims(tokens.AccessToken);
  const tenantId = typeof id.tenantId === 'string' ? id.tenantId : id[TENANT_ID_ATTRIBUTE];
  return {
    accessToken: tokens.AccessToken,
    idToken: tokens.IdToken,
    // cognito-local leaves both out; Cognito sends the client's validity and "Bearer".
    expiresIn:
      tokens.ExpiresIn ??
      (typeof access.exp === 'number' && typeof access.iat === 'number' ? access.exp - access.iat : 0),
    tokenType: tokens.TokenType ?? 'Bearer',
    ...(typeof tenantId === 'string' ? { tenantId } : {}),
  };
}

function loginError(email: string, err: unknown): unknown {
  const reason = err instanceof Error ? err.message : String(err);
  if (isAwsError(err, 'NotAuthorizedException', 'InvalidPasswordException', 'UserNotFoundException')) {
    return new SaasctlError('UNAUTHORIZED', `Sign-in refused for ${email}: wrong email or password.`, {
      cause: err,
      details: { reason },
      actions: ['Check the address and the password (--password, SAASCTL_USER_PASSWORD or the prompt).'],
    });
  }
  if (isAwsError(err, 'UserLambdaValidationException')) {
    return new SaasctlError(
      'LOGIN_REFUSED',
      `Sign-in refused for ${email} by the pre-token trigger: ${reason}`,
      {
        exitCode: ExitCode.conflict,
        cause: err,
        actions: [
          "See the user's tenant with `saasctl tenant show <id>`: only ACTIVE (or MIGRATING) tenants' users get tokens.",
        ],
      },
    );
  }
  if (isAwsError(err, 'PasswordResetRequiredException', 'UserNotConfirmedException')) {
    return new SaasctlError('PASSWORD_CHANGE_REQUIRED', `${email} cannot sign in yet: ${reason}`, {
      exitCode: ExitCode.conflict,
      cause: err,
      actions: ['Set a permanent password with `saasctl user create <email> --tenant <id> --password <p>`.'],
    });
  }
  return err;
}

function challengeError(email: string, challenge: string | undefined): SaasctlError {
  if (challenge === 'NEW_PASSWORD_REQUIRED') {
    return new SaasctlError(
      'PASSWORD_CHANGE_REQUIRED',
      `${email} still has the temporary password of its invitation: it must choose a new one first.`,
      {
        exitCode: ExitCode.conflict,
        actions: [
          'Sign in once through the application, or set a permanent password with ' +
            '`saasctl user create <email> --tenant <id> --password <p>`.',
        ],
      },
    );
  }
  return new SaasctlError(
    'CHALLENGE_REQUIRED',
    `Cognito asks ${email} for ${challenge ?? 'another step'}, which \`saasctl user login\` does not answer.`,
    { exitCode: ExitCode.conflict, actions: ['Sign in through the application (MFA and other challenges).'] },
  );
}

/** A JWT's payload, unverified: only to report what Cognito put in the tokens it just sent. */
function jwtClaims(token: string): Record<string, unknown> {
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return payload && typeof payload === 'object' ? (payload as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
