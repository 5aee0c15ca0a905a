import { usageError } from '../cli/errors.js';
import type { EmulatedSubscription } from '../local/emulators/marketplace-control.js';
import type { Tenant } from './model.js';

/**
 * A tenant's AWS Marketplace subscription: who BatchMeterUsage bills for its usage. Products
 * created from June 2026 identify the buyer by its AWS account and the license of its agreement
 * (Concurrent Agreements: one account may hold several); older integrations by the
 * CustomerIdentifier that ResolveCustomer returned. A tenant has one or the other, or neither
 * (it is not billed through Marketplace).
 */
export type MarketplaceSubscription =
  | { readonly kind: 'license'; readonly accountId: string; readonly licenseArn: string }
  | { readonly kind: 'customer'; readonly customerIdentifier: string };

/** The flags as given: `--marketplace-account-id` with `--license-arn`, or `--marketplace-customer`. */
export interface SubscriptionInput {
  readonly marketplaceAccountId?: string;
  readonly licenseArn?: string;
  readonly marketplaceCustomer?: string;
}

/** The tenant fields a subscription is stored in. */
export type SubscriptionFields =
  | Required<Pick<Tenant, 'marketplaceAccountId' | 'licenseArn'>>
  | {
      readonly marketplaceCustomer: string;
    };

const ACCOUNT_ID = /^\d{12}$/;
/** A License Manager license, as AWS Marketplace grants them: `arn:aws:license-manager::<account>:license:l-<32 hex>`. */
const LICENSE_ARN = /^arn:aws(-cn|-us-gov)?:license-manager::\d{12}:license:l-[0-9a-f]{32}$/;
/** Printable ASCII without spaces, at most 255 characters (AWS allows 255). */
const CUSTOMER_IDENTIFIER = /^[\x21-\x7E]{1,255}$/;

export const SUBSCRIPTION_RULE =
  'a Marketplace subscription is --marketplace-account-id <12 digits> with --license-arn <arn:aws:license-manager::<account>:license:l-<32 hex>>, or --marketplace-customer <CustomerIdentifier> for a legacy integration, not both';

/**
 * Checks the subscription flags (exit 2, naming the rule) and returns the tenant fields to store,
 * or undefined when none was given.
 */
export function validateSubscription(input: SubscriptionInput): SubscriptionFields | undefined {
  const { marketplaceAccountId: accountId, licenseArn, marketplaceCustomer: customer } = input;
  if (accountId === undefined && licenseArn === undefined && customer === undefined) return undefined;
  if (customer !== undefined) {
    if (accountId !== undefined || licenseArn !== undefined) {
      throw invalid(
        'Give either --marketplace-account-id with --license-arn, or --marketplace-customer, not both',
      );
    }
    if (!CUSTOMER_IDENTIFIER.test(customer)) {
      throw invalid(
        `Invalid --marketplace-customer ${JSON.stringify(customer)}: a CustomerIdentifier is 1-255 printable characters without spaces`,
      );
    }
    return { marketplaceCustomer: customer };
  }
  if (accountId === undefined || licenseArn === undefined) {
    throw invalid(
      accountId === undefined
        ? '--license-arn needs --marketplace-account-id (the buyer account the license was granted to)'
        : '--marketplace-account-id needs --license-arn (BatchMeterUsage bills an account through its license)',
    );
  }
  if (!ACCOUNT_ID.test(accountId)) {
    throw invalid(`Invalid --marketplace-account-id "${accountId}": an AWS account id is exactly 12 digits`);
  }
  if (!LICENSE_ARN.test(licenseArn)) {
    throw invalid(
      `Invalid --license-arn "${licenseArn}": expected arn:aws:license-manager::<12-digit account>:license:l-<32 lowercase hex>`,
    );
  }
  return { marketplaceAccountId: accountId, licenseArn };
}

/** The update that gives a tenant this subscription, removing the other kind's fields. */
export function subscriptionUpdate(fields: SubscriptionFields): {
  marketplaceAccountId: string | null;
  licenseArn: string | null;
  marketplaceCustomer: string | null;
} {
  return 'marketplaceCustomer' in fields
    ? { marketplaceAccountId: null, licenseArn: null, marketplaceCustomer: fields.marketplaceCustomer }
    : {
        marketplaceAccountId: fields.marketplaceAccountId,
        licenseArn: fields.licenseArn,
        marketplaceCustomer: null,
      };
}

/** The tenant's subscription, when it has one. */
export function subscriptionOf(tenant: Tenant): MarketplaceSubscription | undefined {
  if (tenant.marketplaceAccountId && tenant.licenseArn) {
    return { kind: 'license', accountId: tenant.marketplaceAccountId, licenseArn: tenant.licenseArn };
  }
  if (tenant.marketplaceCustomer) return { kind: 'customer', customerIdentifier: tenant.marketplaceCustomer };
  return undefined;
}

/** The subscription as the local Marketplace Metering emulator registers it. */
export function emulatedSubscription(
  subscription: MarketplaceSubscription,
  productCode: string,
): EmulatedSubscription {
  return subscription.kind === 'license'
    ? { CustomerAWSAccountId: subscription.accountId, LicenseArn: subscription.licenseArn }
    : { CustomerIdentifier: subscription.customerIdentifier, ProductCode: productCode };
}

/** Registers a tenant's subscription with something that plays AWS Marketplace (the local emulator). */
export type SubscriptionRegistrar = (subscription: MarketplaceSubscription) => Promise<void>;

function invalid(message: string) {
  return usageError('INVALID_MARKETPLACE_SUBSCRIPTION', `${message}. Rule: ${SUBSCRIPTION_RULE}.`);
}
