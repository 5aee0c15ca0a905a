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
}

/** The tiers a new catalog starts with (DESIGN.md "Tenants and tiers"); operators may edit them. */
export const DEFAULT_TIERS: readonly Tier[] = [
  {
    name: 'starter',
    isolation: 'pool',
    description: 'Pooled compute and tables, platform key',
    monthlyPrice: 49,
  },
  {
    name: 'pro',
    isolation: 'pool',
    description: 'Pooled compute and tables, platform key',
    monthlyPrice: 290,
  },
  {
    name: 'business',
    isolation: 'pool-dedicated-table',
    description: 'Pooled, with a dedicated table for the hottest collection',
    monthlyPrice: 990,
  },
  {
    name: 'enterprise',
    isolation: 'silo',
    description: 'Own table and database, own KMS key',
    monthlyPrice: 4900,
  },
  {
    name: 'enterprise-account',
    isolation: 'silo-account',
    description: 'Silo in its own AWS account (Organizations), own KMS key',
    monthlyPrice: 9900,
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

  /** Writes the default tiers that are missing; never overwrites an operator's edits. */
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
      }
    }
    return created;
  }
}

function toTier(item: Record<string, unknown>): Tier {
  return {
    name: String(item.name),
    isolation: item.isolation as IsolationModel,
    description: String(item.description ?? ''),
    monthlyPrice: Number(item.monthlyPrice ?? 0),
  };
}
