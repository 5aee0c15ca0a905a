import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { credsVend, type CredsVendResult } from '../../lib/runtime/creds.js';

export default class CredsVend extends SaasctlCommand {
  static override summary =
    "Vend a tenant's scoped credentials as the authorizer would (debugging; audited).";
  static override description =
    'STS AssumeRole on the tenant runtime role with the tenant session policy and a tenantId session ' +
    'tag, for 15 minutes. Only ACTIVE tenants (exit 4 otherwise). The vending is recorded in the ' +
    "tenant's audit trail with the session's access key id. Prints shell exports; --json the credentials.";
  static override examples = [
    '<%= config.bin %> <%= command.id %> acme --reason "ticket 77: reproduce a 403"',
    'eval "$(<%= config.bin %> <%= command.id %> acme --reason "ticket 77")"',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    reason: Flags.string({ description: 'Why, for the audit trail', required: true }),
  };
  static override localServices = ['dynamodb', 'sts'] as const;
  static override mutating = true;

  async run(): Promise<CredsVendResult> {
    const { args, flags } = await this.parse(CredsVend);
    const result = await credsVend(
      () => this.platform(flags),
      args.tenantId,
      flags.reason,
      (message) => this.reporter.warn(message),
    );
    this.log(`export AWS_ACCESS_KEY_ID=${result.accessKeyId}`);
    this.log(`export AWS_SECRET_ACCESS_KEY=${result.secretAccessKey}`);
    this.log(`export AWS_SESSION_TOKEN=${result.sessionToken}`);
    this.reporter.info(`Session ${result.assumedRoleArn}, expires ${result.expiration}.`);
    return result;
  }
}
