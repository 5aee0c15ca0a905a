import { Args } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { credsPolicy, type CredsPolicyResult } from '../../lib/runtime/creds.js';

export default class CredsPolicy extends SaasctlCommand {
  static override summary = "Print a tenant's session policy, exactly as the authorizer passes it to STS.";
  static override description =
    'The inline session policy of the tenant-scoped credentials: DynamoDB items whose partition key is ' +
    'TENANT#<id> or TENANT#<id>#<shard>, S3 objects under <id>/, the tenant key with its encryption ' +
    'context; Scan, PartiQL and untenanted indexes denied. --json adds its size against STS limit.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> acme',
    '<%= config.bin %> <%= command.id %> acme --json',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override localServices = ['dynamodb'] as const;

  async run(): Promise<CredsPolicyResult> {
    const { args, flags } = await this.parse(CredsPolicy);
    const result = await credsPolicy(() => this.platform(flags), args.tenantId);
    this.log(JSON.stringify(result.policy, null, 2));
    this.reporter.info(
      `${result.characters} of ${result.limit} characters (compact, as sent to STS); hash ${result.policyHash}`,
    );
    return result;
  }
}
