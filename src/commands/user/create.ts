import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { createUser, userDependencies, type UserCreateResult } from '../../lib/identity/users.js';

export default class UserCreate extends SaasctlCommand {
  static override summary = "Create a user of a tenant in the platform user pool (or confirm it's there).";
  static override description =
    "The user gets the tenant's claims (custom:tenantId, custom:tier) set server-side and the tenant's " +
    'group; the tenant must be ACTIVE. Local target: no invitation, a permanent password from ' +
    '--password, SAASCTL_USER_PASSWORD or generated (printed once). AWS target: Cognito emails an ' +
    'invitation, unless --password sets a permanent password. The same user of the same tenant ' +
    "again is success; another tenant's user is a conflict (exit 4).";
  static override examples = [
    '<%= config.bin %> <%= command.id %> dev@acme.test --tenant acme',
    'SAASCTL_USER_PASSWORD="$PW" <%= config.bin %> <%= command.id %> dev@acme.test --tenant acme --json',
  ];
  static override args = {
    email: Args.string({ description: "The user's email (their sign-in name)", required: true }),
  };
  static override flags = {
    tenant: Flags.string({ description: 'Tenant id of the user (an ACTIVE tenant)', required: true }),
    password: Flags.string({
      description:
        'A permanent password (12+ characters: lower, upper, digit, symbol). Local: default ' +
        'SAASCTL_USER_PASSWORD, else generated. Prefer the env variable: flags land in shell history.',
    }),
  };
  static override localServices = ['dynamodb', 'cognito'] as const;
  static override mutating = true;

  async run(): Promise<UserCreateResult> {
    const { args, flags } = await this.parse(UserCreate);
    // Locally the env variable stands in for the flag; on AWS only an explicit --password
    // replaces the invitation, so a variable left set for `user login` never does.
    const password =
      flags.password ?? (this.target(flags).name === 'local' ? process.env.SAASCTL_USER_PASSWORD : undefined);
    const result = await createUser(async () => userDependencies(await this.platform(flags)), {
      email: args.email,
      tenantId: flags.tenant,
      ...(password === undefined ? {} : { password }),
    });
    const what = result.created ? 'created' : 'already there';
    this.log(`${result.email} (tenant ${result.tenantId}, ${result.tier}): ${what}`);
    if (result.invitation === 'sent') this.reporter.info('Cognito emailed the invitation.');
    if (result.generatedPassword) {
      this.log(`password: ${result.generatedPassword}`);
      this.reporter.warn('The generated password is shown this once: keep it now.');
    } else if (result.passwordSet) {
      this.reporter.info('Permanent password set.');
    }
    return result;
  }
}
