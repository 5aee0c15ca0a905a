import { Args } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { renderFields } from '../../lib/cli/output.js';
import { keyStatus, type KeyStatusResult } from '../../lib/keys/kill-switch.js';

export default class KeyStatus extends SaasctlCommand {
  static override summary = "Show a silo tenant's KMS key: state, rotation, alias.";
  static override examples = ['<%= config.bin %> <%= command.id %> bigco --json'];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override localServices = ['dynamodb', 'kms'] as const;

  async run(): Promise<KeyStatusResult> {
    const { args, flags } = await this.parse(KeyStatus);
    const status = await keyStatus(() => this.platform(flags), args.tenantId);
    this.log(
      renderFields({
        tenant: status.tenantId,
        key: status.keyArn,
        alias: status.alias,
        state: status.keyState,
        rotation: status.rotationEnabled ? 'on' : 'off',
        'deletion date': status.deletionDate,
      }),
    );
    return status;
  }
}
