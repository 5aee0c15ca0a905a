import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { usageError } from '../../lib/cli/errors.js';
import { tenantFields } from '../../lib/cli/views.js';
import type { TransitionResult } from '../../lib/tenants/catalog.js';
import { updateTenant } from '../../lib/tenants/lifecycle.js';

export default class TenantUpdate extends SaasctlCommand {
  static override summary =
    "Change a tenant's display name, plan price or AWS Marketplace subscription; audited.";
  static override examples = [
    '<%= config.bin %> <%= command.id %> acme --name "Acme Corporation"',
    '<%= config.bin %> <%= command.id %> acme --plan-price 1900 --reason "custom contract"',
    '<%= config.bin %> <%= command.id %> acme --marketplace-customer AbCdEf123456 --reason "subscribed on Marketplace"',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    name: Flags.string({ description: 'New display name' }),
    'plan-price': Flags.integer({ description: 'Monthly plan price in USD' }),
    reason: Flags.string({ description: 'Why, for the audit trail' }),
    'marketplace-account-id': Flags.string({
      description: "AWS Marketplace buyer: the buyer's 12-digit AWS account id (with --license-arn)",
    }),
    'license-arn': Flags.string({
      description:
        "AWS Marketplace buyer: the license of the buyer's agreement (with --marketplace-account-id)",
    }),
    'marketplace-customer': Flags.string({
      description: 'AWS Marketplace buyer of a legacy integration: its CustomerIdentifier',
    }),
  };
  static override localServices = ['dynamodb', 'marketplace'] as const;
  static override mutating = true;

  async run(): Promise<TransitionResult> {
    const { args, flags } = await this.parse(TenantUpdate);
    const subscription = {
      marketplaceAccountId: flags['marketplace-account-id'],
      licenseArn: flags['license-arn'],
      marketplaceCustomer: flags['marketplace-customer'],
    };
    if (
      flags.name === undefined &&
      flags['plan-price'] === undefined &&
      Object.values(subscription).every((v) => v === undefined)
    ) {
      throw usageError(
        'NOTHING_TO_UPDATE',
        'Nothing to update: pass --name, --plan-price, or a Marketplace subscription (--marketplace-account-id with --license-arn, or --marketplace-customer).',
      );
    }
    const result = await updateTenant(() => this.platform(flags), args.tenantId, {
      name: flags.name,
      planPrice: flags['plan-price'],
      reason: flags.reason,
      ...subscription,
    });
    this.log(result.changed ? `Updated ${args.tenantId}.` : `${args.tenantId} already has these values.`);
    this.log(tenantFields(result.tenant));
    return result;
  }
}
