import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { tenantFields } from '../../lib/cli/views.js';
import { onboardDependencies } from '../../lib/tenants/context.js';
import { onboardTenant, validateOnboardRequest, type OnboardResult } from '../../lib/tenants/onboarding.js';

export default class TenantOnboard extends SaasctlCommand {
  static override summary =
    'Onboard a tenant: catalog record, its silo account, key and table (silo tiers), Cognito group and admin user, then ACTIVE.';
  static override description =
    'Idempotent: re-running the same request resumes or confirms it and creates nothing twice. ' +
    'Onboarding an existing tenant with different values is a conflict (exit 4).';
  static override examples = [
    '<%= config.bin %> <%= command.id %> acme --tier pro --name "Acme Corp" --admin-email ops@acme.test',
    '<%= config.bin %> <%= command.id %> globex --tier starter --name Globex --admin-email it@globex.test --json',
    '<%= config.bin %> <%= command.id %> initech --tier pro --name Initech --admin-email it@initech.test --marketplace-account-id 111122223333 --license-arn arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef',
  ];
  static override args = {
    tenantId: Args.string({ description: 'Tenant id (3-32 chars: a-z, 0-9, hyphens)', required: true }),
  };
  static override flags = {
    tier: Flags.string({ description: 'Tier from the catalog (see `saasctl tier list`)', required: true }),
    name: Flags.string({ description: 'Display name', required: true }),
    'admin-email': Flags.string({ description: "Email of the tenant's first admin user", required: true }),
    // Here --region is the tenant's region (where its silo resources live); the control plane's
    // region comes from AWS_REGION or the profile.
    region: Flags.string({
      description: "The tenant's region, where its silo resources live (default: the control plane's region)",
    }),
    'plan-price': Flags.integer({
      description: 'Monthly plan price in USD, when it differs from the tier price',
    }),
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
    'deploy-silo': Flags.boolean({
      description:
        "Deploy a silo tier's dedicated compute (its SiloStack) with the CDK toolkit once ACTIVE (aws target)",
      default: true,
      allowNo: true,
    }),
    wait: Flags.boolean({
      description:
        'Follow the Step Functions execution to its end (aws target); --no-wait returns its reference',
      default: true,
      allowNo: true,
    }),
  };
  static override localServices = ['dynamodb', 'cognito', 'kms', 'organizations', 'marketplace'] as const;
  static override mutating = true;

  async run(): Promise<OnboardResult> {
    const { args, flags } = await this.parse(TenantOnboard);
    const controlPlane = { ...flags, region: undefined };
    const target = this.target(controlPlane);
    const request = validateOnboardRequest({
      tenantId: args.tenantId,
      tier: flags.tier,
      name: flags.name,
      adminEmail: flags['admin-email'],
      region: flags.region ?? target.region,
      planPrice: flags['plan-price'],
      marketplaceAccountId: flags['marketplace-account-id'],
      licenseArn: flags['license-arn'],
      marketplaceCustomer: flags['marketplace-customer'],
    });
    const platform = await this.platform(controlPlane);
    const result = await onboardTenant(
      onboardDependencies(
        platform,
        { failOnce: process.env.SAASCTL_TEST_FAIL_STEP },
        flags.wait,
        flags['deploy-silo'],
      ),
      request,
      this.reporter,
    );
    if (result.execution && !flags.wait) {
      this.log(`Started ${result.execution.executionArn}`);
      this.log(`Follow it with: saasctl tenant status ${request.tenantId}`);
      return result;
    }
    this.log(result.changed ? `Onboarded ${request.tenantId}.` : `${request.tenantId} is already onboarded.`);
    if (result.tenant) this.log(tenantFields(result.tenant));
    if (result.siloStack) this.log(`Silo stack: ${result.siloStack.stackName}`);
    return result;
  }
}
