import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { isAwsError, usageError } from '../cli/errors.js';
import { queryAll } from '../platform/dynamo.js';
import { sdk } from '../platform/sdk.js';
import { CONTROL_PLANE_INDEX, keys } from './keys.js';
import type { IsolationModel } from './model.js';

export interface Tier {
  readonly name: string;
  readonly isolation: IsolationModel;
  readonly description: string;
  /** Monthly list price in USD; a tenant's planPrice overrides it. */
  readonly monthlyPrice: number;
  /**
   * How the tier's usage is billed on AWS Marketplace: each metered metric and the product's
   * dimension it is pushed to (`metering push`). Absent: the tier is not mapped (push warns);
   * empty: deliberately not billed through Marketplace.
   */
  readonly dimensions?: readonly DimensionMapping[];
  /**
   * What the plan includes, per metric (`tenant usage`, `tenant limits`, `report
   * noisy-neighbours`). Absent: the plan sets no limits.
   */
  readonly limits?: readonly PlanLimit[];
}

/**
 * One metric's allowance on a plan: for a summed metric (api.call) the quantity included per
 * calendar month; for a max metric (storage.gb) the highest hourly value allowed.
 */
export interface PlanLimit {
  readonly metric: string;
  readonly quantity: number;
}

/** Default allowances, sized so a tenant using all of them still costs less than its plan (README). */
function planLimits(apiCalls: number, documents: number, storageGb: number): readonly PlanLimit[] {
  return [
    { metric: 'api.call', quantity: apiCalls },
    { metric: 'doc.processed', quantity: documents },
    { metric: 'storage.gb', quantity: storageGb },
  ];
}

/** One metric (metrics.ts) billed as one Marketplace dimension of the product. */
export interface DimensionMapping {
  readonly metric: string;
  readonly dimension: string;
}

/** The product's dimensions for the default metrics; every default tier bills them the same way. */
export const DEFAULT_DIMENSIONS: readonly DimensionMapping[] = [
  { metric: 'api.call', dimension: 'api_calls' },
  { metric: 'doc.processed', dimension: 'documents' },
  { metric: 'storage.gb', dimension: 'storage_gb_hours' },
];

/** The tiers a new catalog starts with (DESIGN.md "Tenants and tiers"); operators may edit them. */
export const DEFAULT_TIERS: readonly Tier[] = [
  {
    name: 'starter',
    isolation: 'pool',
    description: 'Pooled compute and tables, platform key',
    monthlyPrice: 49,
    dimensions: DEFAULT_DIMENSIONS,
    limits: planLimits(100_000, 30, 20),
  },
  {
    name: 'pro',
    isolation: 'pool',
    description: 'Pooled compute and tables, platform key',
    monthlyPrice: 290,
    dimensions: DEFAULT_DIMENSIONS,
    limits: planLimits(1_000_000, 200, 100),
  },
  {
    name: 'business',
    isolation: 'pool-dedicated-table',
    description: 'Pooled, with a dedicated table for the hottest collection',
    monthlyPrice: 990,
    dimensions: DEFAULT_DIMENSIONS,
    limits: planLimits(3_000_000, 700, 500),
  },
  {
    name: 'enterprise',
    isolation: 'silo',
    description: 'Own table and database, own KMS key',
    monthlyPrice: 4900,
    dimensions: DEFAULT_DIMENSIONS,
    limits: planLimits(15_000_000, 2_500, 2_000),
  },
  {
    name: 'enterprise-account',
    isolation: 'silo-account',
    description: 'Silo in its own AWS account (Organizations), own KMS key',
    monthlyPrice: 9900,
    dimensions: DEFAULT_DIMENSIONS,
    limits: planLimits(30_000_000, 6_000, 5_000),
  },
];

export function isPooled(isolation: IsolationModel): boolean {
  return isolation === 'pool' || isolation === 'pool-dedicated-table';
}

/** The tier catalog, in the control-plane table under `TIER#<name>`. */
export class TierCatalog {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async list(): Promise<Tier[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      IndexName: CONTROL_PLANE_INDEX,
      KeyConditionExpression: 'gsi1pk = :tier',
      ExpressionAttributeValues: { ':tier': 'TIER' },
    });
    return items.map(toTier);
  }

  async get(name: string): Promise<Tier | undefined> {
    const { Item } = await this.db.send(
      new (sdk.documents().GetCommand)({ TableName: this.table, Key: keys.tier(name) }),
    );
    return Item ? toTier(Item) : undefined;
  }

  /** The tier, or a usage error that lists the ones that exist. */
  async require(name: string): Promise<Tier> {
    const tier = await this.get(name);
    if (tier) return tier;
    const known = (await this.list()).map((t) => t.name);
    throw usageError(
      'UNKNOWN_TIER',
      `Unknown tier "${name}": the tier must be one of ${known.join(', ') || '(none)'}.`,
      ['See the tiers with `saasctl tier list`.'],
    );
  }

  /**
   * Writes the default tiers that are missing; never overwrites an operator's edits. A tier
   * that exists without a dimension mapping or plan limits (seeded before they existed) gets
   * the default ones; a mapping or limits that are there, even empty, are left alone.
   */
  async seedDefaults(tiers: readonly Tier[] = DEFAULT_TIERS): Promise<string[]> {
    const created: string[] = [];
    for (const tier of tiers) {
      try {
        await this.db.send(
          new (sdk.documents().PutCommand)({
            TableName: this.table,
            Item: { ...keys.tier(tier.name), ...keys.tierListing(tier.name), entity: 'tier', ...tier },
            ConditionExpression: 'attribute_not_exists(PK)',
          }),
        );
        created.push(tier.name);
      } catch (err) {
        if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
        if (tier.dimensions) await this.addMissingDimensions(tier.name, tier.dimensions);
        if (tier.limits) await this.addMissingLimits(tier.name, tier.limits);
      }
    }
    return created;
  }

  /** Like dimensions: a tier seeded before plan limits existed gets the default ones. */
  private async addMissingLimits(name: string, limits: readonly PlanLimit[]): Promise<void> {
    await this.db.send(
      new (sdk.documents().UpdateCommand)({
        TableName: this.table,
        Key: keys.tier(name),
        UpdateExpression: 'SET #limits = if_not_exists(#limits, :limits)',
        ExpressionAttributeNames: { '#limits': 'limits' },
        ExpressionAttributeValues: { ':limits': limits },
      }),
    );
  }

  private async addMissingDimensions(name: string, dimensions: readonly DimensionMapping[]): Promise<void> {
    await this.db.send(
      new (sdk.documents().UpdateCommand)({
        TableName: this.table,
        Key: keys.tier(name),
        UpdateExpression: 'SET #dimensions = if_not_exists(#dimensions, :dimensions)',
        ExpressionAttributeNames: { '#dimensions': 'dimensions' },
        ExpressionAttributeValues: { ':dimensions': dimensions },
      }),
    );
  }
}

function toTier(item: Record<string, unknown>): Tier {
  return {
    name: String(item.name),
    isolation: item.isolation as IsolationModel,
    description: String(item.description ?? ''),
    monthlyPrice: Number(item.monthlyPrice ?? 0),
    ...(Array.isArray(item.dimensions)
      ? {
          dimensions: (item.dimensions as Record<string, unknown>[]).map((d) => ({
            metric: String(d?.metric ?? ''),
            dimension: String(d?.dimension ?? ''),
          })),
        }
      : {}),
    ...(Array.isArray(item.limits)
      ? {
          limits: (item.limits as Record<string, unknown>[]).map((l) => ({
            metric: String(l?.metric ?? ''),
            quantity: Number(l?.quantity ?? 0),
          })),
        }
      : {}),
  };
}
