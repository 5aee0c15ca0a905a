import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { switchKey, type KeySwitchResult } from '../../lib/keys/kill-switch.js';

export default class KeyEnable extends SaasctlCommand {
  static override summary = "Enable a silo tenant's KMS key again; audited.";
  static override examples = ['<%= config.bin %> <%= command.id %> bigco --reason "incident 42 closed"'];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    reason: Flags.string({ description: 'Why, for the audit trail', required: true }),
  };
  static override localServices = ['dynamodb', 'kms'] as const;
  static override mutating = true;

  async run(): Promise<KeySwitchResult> {
    const { args, flags } = await this.parse(KeyEnable);
    const result = await switchKey(() => this.platform(flags), args.tenantId, true, flags.reason);
    this.log(
      result.changed
        ? `Enabled the key of ${result.tenantId}.`
        : `The key of ${result.tenantId} was already enabled.`,
    );
    this.log('Proof: KMS answered a GenerateDataKey with the key.');
    return result;
  }
}
