import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { switchKey, type KeySwitchResult } from '../../lib/keys/kill-switch.js';
import { assertReason, assertTenantId } from '../../lib/tenants/model.js';

export default class KeyDisable extends SaasctlCommand {
  static override summary =
    "The kill switch: disable a silo tenant's KMS key, so its data becomes unreadable.";
  static override description =
    'Asks for confirmation on a terminal (--yes for scripts), disables the key, audits it, and proves ' +
    'the effect: KMS must refuse a GenerateDataKey with the key. The runtime stops reading within ' +
    'its data-key cache lifetime (5 minutes by default).';
  static override examples = [
    '<%= config.bin %> <%= command.id %> bigco --reason "security incident 42" --yes',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    reason: Flags.string({ description: 'Why, for the audit trail', required: true }),
    yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation' }),
  };
  static override localServices = ['dynamodb', 'kms'] as const;
  static override mutating = true;

  async run(): Promise<KeySwitchResult> {
    const { args, flags } = await this.parse(KeyDisable);
    assertReason(flags.reason);
    await this.confirm(
      `Disable the key of tenant ${assertTenantId(args.tenantId)}? Its data becomes unreadable.`,
      flags.yes,
    );
    const result = await switchKey(() => this.platform(flags), args.tenantId, false, flags.reason);
    this.log(
      result.changed
        ? `Disabled the key of ${result.tenantId}.`
        : `The key of ${result.tenantId} was already disabled.`,
    );
    this.log(`Proof: KMS refused GenerateDataKey with ${result.probe.error ?? 'an error'}.`);
    return result;
  }
}
