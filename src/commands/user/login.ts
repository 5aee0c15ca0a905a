import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { usageError } from '../../lib/cli/errors.js';
import { loginUser, userDependencies, type UserLoginResult } from '../../lib/identity/users.js';

export default class UserLogin extends SaasctlCommand {
  static override summary = 'Sign a user in and print their access token (stdout, alone).';
  static override description =
    'USER_PASSWORD_AUTH with the platform app client, through the pre-token trigger: a user whose ' +
    'tenant is not ACTIVE gets no token (exit 4). The password comes from --password, ' +
    'SAASCTL_USER_PASSWORD, or a hidden prompt on a terminal. A wrong email or password exits 1 ' +
    '(UNAUTHORIZED). --json gives the access and ID tokens, their lifetime and the tenant.';
  static override examples = [
    'TOKEN=$(<%= config.bin %> <%= command.id %> dev@acme.test)',
    'SAASCTL_USER_PASSWORD="$PW" <%= config.bin %> <%= command.id %> dev@acme.test --json',
  ];
  static override args = { email: Args.string({ description: "The user's email", required: true }) };
  static override flags = {
    password: Flags.string({
      description: 'The password [env: SAASCTL_USER_PASSWORD]; prompted for on a terminal when absent',
    }),
  };
  // The pre-token trigger reads the tenant catalog in the local DynamoDB.
  static override localServices = ['dynamodb', 'cognito'] as const;

  async run(): Promise<UserLoginResult> {
    const { args, flags } = await this.parse(UserLogin);
    const password =
      flags.password ?? process.env.SAASCTL_USER_PASSWORD ?? (await this.askPassword(args.email));
    const result = await loginUser(async () => userDependencies(await this.platform(flags)), {
      email: args.email,
      password,
    });
    this.log(result.accessToken);
    this.reporter.info(
      `Signed in${result.tenantId ? ` (tenant ${result.tenantId})` : ''}; the token expires in ${result.expiresIn} s.`,
    );
    return result;
  }

  /** A hidden prompt on stderr, so `TOKEN=$(saasctl user login ...)` still asks; never without a terminal. */
  private async askPassword(email: string): Promise<string> {
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw usageError('PASSWORD_REQUIRED', `No password for ${email}, and no terminal to ask for one.`, [
        'Pass --password, or set SAASCTL_USER_PASSWORD.',
      ]);
    }
    const { password } = await import('@inquirer/prompts');
    return password({ message: `Password for ${email}:`, mask: false }, { output: process.stderr });
  }
}
