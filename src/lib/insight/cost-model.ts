import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { conflict, isAwsError, usageError } from '../cli/errors.js';
import type { MetricRegistry } from '../metering/metrics.js';
import { sdk } from '../platform/sdk.js';
import { keys } from '../tenants/keys.js';

/**
 * What it costs the platform to serve a tenant (README "Operator insight"): a unit cost per
 * metric and a fixed monthly cost per tier for the resources a tenant of that tier has to
 * itself (a dedicated table, a silo's table, key and database, an account's baseline). Plan
 * prices stay on the tiers (and on tenants, as their planPrice override).
 */
export interface CostModel {
  readonly currency: 'USD';
  /** Unit costs; a metric without one costs nothing (the report warns). */
  readonly metrics: readonly MetricCost[];
  /** Fixed monthly costs; a tier without one has none (pooled tiers). */
  readonly tiers: readonly TierCost[];
  /** 0 for the defaults when nothing is stored yet; every stored change adds one. */
  readonly version: number;
  readonly updatedAt?: string;
  readonly updatedBy?: string;
}

/**
 * `usd` per `per` units of the metric's billable quantity for a month: for a summed metric the
 * month's total (api.call: $ per 1,000 calls); for a max metric the unit-months, the month's
 * hourly values averaged over every hour of the month (storage.gb: $ per GB-month).
 */
export interface MetricCost {
  readonly metric: string;
  readonly usd: number;
  readonly per: number;
}

export interface TierCost {
  readonly tier: string;
  readonly fixedMonthlyUsd: number;
}

/**
 * Defaults for a document-processing SaaS on AWS, in USD:
 * - api.call $0.05 per 1,000: API Gateway, Lambda and DynamoDB requests, with headroom;
 * - doc.processed $1 each: OCR of a ten-page document plus model inference to extract it,
 *   the dominant cost;
 * - storage.gb $0.05 per GB-month: S3 Standard with a cross-region replica;
 * - business $25/month (its dedicated table, backups), enterprise $1,200 (own table, database,
 *   key, monitoring), enterprise-account $1,800 (that plus an account's baseline services).
 * With these, a tier's full allowance (tiers.ts) costs less than its price.
 */
export const DEFAULT_COST_MODEL: CostModel = Object.freeze({
  currency: 'USD',
  metrics: Object.freeze([
    Object.freeze({ metric: 'api.call', usd: 0.05, per: 1000 }),
    Object.freeze({ metric: 'doc.processed', usd: 1000, per: 1000 }),
    Object.freeze({ metric: 'storage.gb', usd: 0.05, per: 1 }),
  ]),
  tiers: Object.freeze([
    Object.freeze({ tier: 'business', fixedMonthlyUsd: 25 }),
    Object.freeze({ tier: 'enterprise', fixedMonthlyUsd: 1200 }),
    Object.freeze({ tier: 'enterprise-account', fixedMonthlyUsd: 1800 }),
  ]),
  version: 0,
}) as CostModel;

export const MAX_UNIT_COST_USD = 1_000_000;
export const MAX_FIXED_COST_USD = 10_000_000;
const UNIT_COST_RULE = `a unit cost is a number of USD from 0 to ${MAX_UNIT_COST_USD.toLocaleString('en-US')} with at most 6 decimals`;
const FIXED_COST_RULE = `a fixed monthly cost is a number of USD from 0 to ${MAX_FIXED_COST_USD.toLocaleString('en-US')} with at most 2 decimals`;

/** The unit cost of a metric, or undefined when the model has none. */
export function metricCost(model: CostModel, metric: string): MetricCost | undefined {
  return model.metrics.find((m) => m.metric === metric);
}

/** A tier's fixed monthly cost (0 when the model has none). */
export function fixedCost(model: CostModel, tier: string): number {
  return model.tiers.find((t) => t.tier === tier)?.fixedMonthlyUsd ?? 0;
}

/** What a flag's text or a number says, checked against the rule (exit 2 naming it). */
function amount(value: string | number, label: string, max: number, decimals: number, code: string): number {
  const number = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
  const scaled = number * 10 ** decimals;
  if (
    !Number.isFinite(number) ||
    number < 0 ||
    number > max ||
    Math.abs(Math.round(scaled) - scaled) > 1e-6
  ) {
    const rule = decimals === 2 ? FIXED_COST_RULE : UNIT_COST_RULE;
    throw usageError(code, `Invalid ${label} ${JSON.stringify(value)}: ${rule}.`);
  }
  return number;
}

export function assertUnitCost(value: string | number, label: string): number {
  return amount(value, label, MAX_UNIT_COST_USD, 6, 'INVALID_UNIT_COST');
}

export function assertFixedCost(value: string | number, label: string): number {
  return amount(value, label, MAX_FIXED_COST_USD, 2, 'INVALID_FIXED_COST');
}

/** `cost set`: one metric's unit cost, or one tier's fixed cost. */
export interface CostChangeRequest {
  readonly metric?: string;
  /** USD per 1,000 units (summed metrics). */
  readonly per1000?: string | number;
  /** USD per unit: per unit-month for a max metric (storage.gb: per GB-month). */
  readonly perUnit?: string | number;
  readonly tier?: string;
  readonly fixedMonthly?: string | number;
}

export type CostChange =
  { readonly kind: 'metric'; readonly cost: MetricCost } | { readonly kind: 'tier'; readonly cost: TierCost };

/** Checks a request against every rule before anything is opened (exit 2, naming the rule). */
export function validateCostChange(request: CostChangeRequest, registry: MetricRegistry): CostChange {
  const hasMetric = request.metric !== undefined;
  const hasTier = request.tier !== undefined;
  if (hasMetric === hasTier) {
    throw usageError(
      hasMetric ? 'COST_TARGET_CONFLICT' : 'COST_TARGET_REQUIRED',
      'Give either --metric with --per-1000 or --per-unit, or --tier with --fixed-monthly: one change at a time.',
    );
  }
  if (request.metric !== undefined) {
    if (request.fixedMonthly !== undefined) {
      throw usageError('COST_FLAG_CONFLICT', '--fixed-monthly goes with --tier, not with --metric.');
    }
    const metric = registry.require(request.metric).name;
    if ((request.per1000 === undefined) === (request.perUnit === undefined)) {
      throw usageError(
        'UNIT_COST_REQUIRED',
        `Give the unit cost of ${metric} once: --per-1000 <usd> (per 1,000 units) or --per-unit <usd> (per unit; per unit-month for a max metric such as storage.gb).`,
      );
    }
    const cost =
      request.per1000 !== undefined
        ? { metric, usd: assertUnitCost(request.per1000, '--per-1000'), per: 1000 }
        : { metric, usd: assertUnitCost(request.perUnit as string | number, '--per-unit'), per: 1 };
    return { kind: 'metric', cost };
  }
  if (request.per1000 !== undefined || request.perUnit !== undefined) {
    throw usageError('COST_FLAG_CONFLICT', '--per-1000 and --per-unit go with --metric, not with --tier.');
  }
  if (request.fixedMonthly === undefined) {
    throw usageError(
      'FIXED_COST_REQUIRED',
      `Give the fixed monthly cost of tier ${request.tier}: --fixed-monthly <usd>.`,
    );
  }
  return {
    kind: 'tier',
    cost: {
      tier: request.tier as string,
      fixedMonthlyUsd: assertFixedCost(request.fixedMonthly, '--fixed-monthly'),
    },
  };
}

/** The model with one change applied; entries keep the order they were first written in. */
export function applyCostChange(model: CostModel, change: CostChange): CostModel {
  if (change.kind === 'metric') {
    const exists = model.metrics.some((m) => m.metric === change.cost.metric);
    return {
      ...model,
      metrics: exists
        ? model.metrics.map((m) => (m.metric === change.cost.metric ? change.cost : m))
        : [...model.metrics, change.cost],
    };
  }
  const exists = model.tiers.some((t) => t.tier === change.cost.tier);
  return {
    ...model,
    tiers: exists
      ? model.tiers.map((t) => (t.tier === change.cost.tier ? change.cost : t))
      : [...model.tiers, change.cost],
  };
}

export interface CostChangeResult {
  readonly model: CostModel;
  /** False when the model already held this value: nothing was written. */
  readonly changed: boolean;
  /** The value replaced, when there was one. */
  readonly previous?: MetricCost | TierCost;
}

const MAX_CONFLICT_RETRIES = 5;

/**
 * The cost model in the control-plane table, one item (`PK=COST`, `SK=MODEL`) beside the tier
 * catalog. Changes are conditional writes on `version` (read, change, write if nobody wrote
 * meanwhile), so two operators' changes never overwrite each other.
 */
export class CostCatalog {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The stored model, or undefined when none has been seeded. */
  async get(): Promise<CostModel | undefined> {
    const { Item } = await this.db.send(
      new (sdk.documents().GetCommand)({
        TableName: this.table,
        Key: keys.costModel(),
        ConsistentRead: true,
      }),
    );
    return Item ? toCostModel(Item) : undefined;
  }

  /** Writes the default model when none is stored; never overwrites one. True when it wrote. */
  async seedDefaults(model: CostModel = DEFAULT_COST_MODEL): Promise<boolean> {
    try {
      await this.db.send(
        new (sdk.documents().PutCommand)({
          TableName: this.table,
          Item: { ...keys.costModel(), entity: 'cost-model', ...storedFields({ ...model, version: 1 }) },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return true;
    } catch (err) {
      if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
      return false;
    }
  }

  /**
   * Applies one change. The model not stored yet: the defaults with the change are written.
   * The same value: success, nothing written.
   */
  async change(change: CostChange, actor: string): Promise<CostChangeResult> {
    for (let attempt = 0; ; attempt++) {
      const stored = await this.get();
      const current = stored ?? DEFAULT_COST_MODEL;
      const previous =
        change.kind === 'metric'
          ? metricCost(current, change.cost.metric)
          : current.tiers.find((t) => t.tier === change.cost.tier);
      if (stored && previous && JSON.stringify(previous) === JSON.stringify(change.cost)) {
        return { model: stored, changed: false, previous };
      }
      const model: CostModel = {
        ...applyCostChange(current, change),
        version: current.version + 1,
        updatedAt: this.now().toISOString(),
        updatedBy: actor,
      };
      try {
        await this.db.send(
          new (sdk.documents().PutCommand)({
            TableName: this.table,
            Item: { ...keys.costModel(), entity: 'cost-model', ...storedFields(model) },
            ...(stored
              ? {
                  ConditionExpression: '#version = :version',
                  ExpressionAttributeNames: { '#version': 'version' },
                  ExpressionAttributeValues: { ':version': stored.version },
                }
              : { ConditionExpression: 'attribute_not_exists(PK)' }),
          }),
        );
        return { model, changed: true, ...(previous ? { previous } : {}) };
      } catch (err) {
        if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
        if (attempt >= MAX_CONFLICT_RETRIES) {
          throw conflict('CONCURRENT_CHANGE', 'The cost model kept changing while this change was written.', [
            'Run the command again.',
          ]);
        }
      }
    }
  }
}

function storedFields(model: CostModel): Record<string, unknown> {
  return {
    currency: model.currency,
    metrics: model.metrics.map(({ metric, usd, per }) => ({ metric, usd, per })),
    tiers: model.tiers.map(({ tier, fixedMonthlyUsd }) => ({ tier, fixedMonthlyUsd })),
    version: model.version,
    ...(model.updatedAt ? { updatedAt: model.updatedAt } : {}),
    ...(model.updatedBy ? { updatedBy: model.updatedBy } : {}),
  };
}

function toCostModel(item: Record<string, unknown>): CostModel {
  const list = (value: unknown): Record<string, unknown>[] =>
    Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
  return {
    currency: 'USD',
    metrics: list(item.metrics).map((m) => ({
      metric: String(m?.metric ?? ''),
      usd: Number(m?.usd ?? 0),
      per: Number(m?.per ?? 1),
    })),
    tiers: list(item.tiers).map((t) => ({
      tier: String(t?.tier ?? ''),
      fixedMonthlyUsd: Number(t?.fixedMonthlyUsd ?? 0),
    })),
    version: Number(item.version ?? 1),
    ...(typeof item.updatedAt === 'string' ? { updatedAt: item.updatedAt } : {}),
    ...(typeof item.updatedBy === 'string' ? { updatedBy: item.updatedBy } : {}),
  };
}
