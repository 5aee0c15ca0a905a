import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import {
  applyCostChange,
  CostCatalog,
  DEFAULT_COST_MODEL,
  fixedCost,
  validateCostChange,
  type CostModel,
} from '../../../src/lib/insight/cost-model.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import { DEFAULT_TIERS } from '../../../src/lib/tenants/tiers.js';
import { awsError, ddb, documentClient, rejectionOf, thrownBy } from '../helpers/aws.js';

const TABLE = 'cp-table';
const NOW = new Date('2026-11-27T10:00:00.000Z');
const KEY = { PK: 'COST', SK: 'MODEL' };
const registry = new MetricRegistry();

function storedItem(model: CostModel): Record<string, unknown> {
  return { ...KEY, entity: 'cost-model', ...model };
}

const STORED: CostModel = {
  ...DEFAULT_COST_MODEL,
  version: 4,
  updatedAt: '2026-11-01T00:00:00.000Z',
  updatedBy: 'local:ops',
};

describe('cost model', () => {
  describe('defaults', () => {
    it('prices every default metric and gives silo tiers their fixed cost', () => {
      expect(DEFAULT_COST_MODEL.metrics.map((m) => m.metric)).to.deep.equal(registry.names());
      expect(fixedCost(DEFAULT_COST_MODEL, 'pro')).to.equal(0);
      expect(fixedCost(DEFAULT_COST_MODEL, 'enterprise')).to.equal(1200);
    });

    it("keeps each default tier's full allowance cheaper than its price", () => {
      for (const tier of DEFAULT_TIERS) {
        const variable = (tier.limits ?? []).reduce((sum, limit) => {
          const unit = DEFAULT_COST_MODEL.metrics.find((m) => m.metric === limit.metric);
          return sum + (unit ? (limit.quantity / unit.per) * unit.usd : 0);
        }, 0);
        expect(variable + fixedCost(DEFAULT_COST_MODEL, tier.name), tier.name).to.be.lessThan(
          tier.monthlyPrice,
        );
      }
    });
  });

  describe('validateCostChange', () => {
    it('reads a unit cost per 1,000 or per unit, and a fixed monthly cost', () => {
      expect(validateCostChange({ metric: 'api.call', per1000: '0.07' }, registry)).to.deep.equal({
        kind: 'metric',
        cost: { metric: 'api.call', usd: 0.07, per: 1000 },
      });
      expect(validateCostChange({ metric: 'storage.gb', perUnit: '0.023' }, registry)).to.deep.equal({
        kind: 'metric',
        cost: { metric: 'storage.gb', usd: 0.023, per: 1 },
      });
      expect(validateCostChange({ tier: 'enterprise', fixedMonthly: '1500.50' }, registry)).to.deep.equal({
        kind: 'tier',
        cost: { tier: 'enterprise', fixedMonthlyUsd: 1500.5 },
      });
    });

    it('refuses bad input with exit 2 and a message naming the rule', () => {
      const cases: [Parameters<typeof validateCostChange>[0], string, string][] = [
        [{}, 'COST_TARGET_REQUIRED', 'Give either --metric'],
        [{ metric: 'api.call', tier: 'pro', per1000: '1' }, 'COST_TARGET_CONFLICT', 'one change at a time'],
        [{ metric: 'api.calls', per1000: '1' }, 'UNKNOWN_METRIC', 'known metrics are api.call'],
        [{ metric: 'api.call' }, 'UNIT_COST_REQUIRED', '--per-1000 <usd>'],
        [{ metric: 'api.call', per1000: '1', perUnit: '1' }, 'UNIT_COST_REQUIRED', 'once'],
        [{ metric: 'api.call', per1000: '-1' }, 'INVALID_UNIT_COST', 'a unit cost is a number of USD from 0'],
        [{ metric: 'api.call', per1000: 'abc' }, 'INVALID_UNIT_COST', 'at most 6 decimals'],
        [{ metric: 'api.call', per1000: '0.0000001' }, 'INVALID_UNIT_COST', 'at most 6 decimals'],
        [
          { metric: 'api.call', per1000: '1', fixedMonthly: '2' },
          'COST_FLAG_CONFLICT',
          '--fixed-monthly goes with --tier',
        ],
        [{ tier: 'pro' }, 'FIXED_COST_REQUIRED', '--fixed-monthly <usd>'],
        [{ tier: 'pro', perUnit: '1' }, 'COST_FLAG_CONFLICT', 'go with --metric'],
        [{ tier: 'pro', fixedMonthly: '10.001' }, 'INVALID_FIXED_COST', 'at most 2 decimals'],
        [{ tier: 'pro', fixedMonthly: '20000000' }, 'INVALID_FIXED_COST', 'from 0 to 10,000,000'],
      ];
      for (const [request, code, text] of cases) {
        const err = thrownBy(() => validateCostChange(request, registry));
        expect(err.code, JSON.stringify(request)).to.equal(code);
        expect(err.exitCode).to.equal(2);
        expect(err.message).to.contain(text);
      }
    });

    it('replaces an entry in place, or appends a new one', () => {
      const changed = applyCostChange(DEFAULT_COST_MODEL, {
        kind: 'tier',
        cost: { tier: 'pro', fixedMonthlyUsd: 5 },
      });
      expect(changed.tiers.map((t) => t.tier)).to.deep.equal([
        'business',
        'enterprise',
        'enterprise-account',
        'pro',
      ]);
      const replaced = applyCostChange(DEFAULT_COST_MODEL, {
        kind: 'metric',
        cost: { metric: 'api.call', usd: 1, per: 1000 },
      });
      expect(replaced.metrics[0]).to.deep.equal({ metric: 'api.call', usd: 1, per: 1000 });
      expect(replaced.metrics).to.have.length(3);
    });
  });

  describe('CostCatalog', () => {
    let costs: CostCatalog;

    beforeEach(() => {
      ddb.reset();
      costs = new CostCatalog(documentClient(), TABLE, () => NOW);
    });

    it('reads the model with a consistent read of its one item', async () => {
      ddb.on(GetCommand).resolves({ Item: storedItem(STORED) });

      expect(await costs.get()).to.deep.equal(STORED);
      expect(ddb.commandCalls(GetCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Key: KEY,
        ConsistentRead: true,
      });
    });

    it('answers undefined when no model is stored', async () => {
      ddb.on(GetCommand).resolves({});
      expect(await costs.get()).to.equal(undefined);
    });

    it('seeds the defaults only when no model is stored', async () => {
      ddb.on(PutCommand).resolvesOnce({}).rejectsOnce(awsError('ConditionalCheckFailedException'));

      expect(await costs.seedDefaults()).to.equal(true);
      expect(await costs.seedDefaults()).to.equal(false);
      expect(ddb.commandCalls(PutCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Item: {
          ...KEY,
          entity: 'cost-model',
          currency: 'USD',
          metrics: [
            { metric: 'api.call', usd: 0.05, per: 1000 },
            { metric: 'doc.processed', usd: 1000, per: 1000 },
            { metric: 'storage.gb', usd: 0.05, per: 1 },
          ],
          tiers: [
            { tier: 'business', fixedMonthlyUsd: 25 },
            { tier: 'enterprise', fixedMonthlyUsd: 1200 },
            { tier: 'enterprise-account', fixedMonthlyUsd: 1800 },
          ],
          version: 1,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      });
    });

    it('rethrows a seeding failure that is not an existing model', async () => {
      ddb.on(PutCommand).rejects(awsError('AccessDeniedException'));
      const failure = await costs.seedDefaults().catch((err: unknown) => err);
      expect(failure).to.have.property('name', 'AccessDeniedException');
    });

    it('changes a stored model with a write conditional on its version', async () => {
      ddb.on(GetCommand).resolves({ Item: storedItem(STORED) });
      ddb.on(PutCommand).resolves({});

      const result = await costs.change(
        { kind: 'metric', cost: { metric: 'api.call', usd: 0.08, per: 1000 } },
        'local:ana',
      );

      expect(result.changed).to.equal(true);
      expect(result.previous).to.deep.equal({ metric: 'api.call', usd: 0.05, per: 1000 });
      expect(ddb.commandCalls(PutCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Item: {
          ...KEY,
          entity: 'cost-model',
          currency: 'USD',
          metrics: [
            { metric: 'api.call', usd: 0.08, per: 1000 },
            { metric: 'doc.processed', usd: 1000, per: 1000 },
            { metric: 'storage.gb', usd: 0.05, per: 1 },
          ],
          tiers: DEFAULT_COST_MODEL.tiers,
          version: 5,
          updatedAt: NOW.toISOString(),
          updatedBy: 'local:ana',
        },
        ConditionExpression: '#version = :version',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':version': 4 },
      });
    });

    it('writes the defaults with the change when nothing is stored yet, only if still nothing is', async () => {
      ddb.on(GetCommand).resolves({});
      ddb.on(PutCommand).resolves({});

      const result = await costs.change(
        { kind: 'tier', cost: { tier: 'enterprise', fixedMonthlyUsd: 900 } },
        'local:ana',
      );

      expect(result.model.version).to.equal(1);
      const input = ddb.commandCalls(PutCommand)[0].args[0].input;
      expect(input.ConditionExpression).to.equal('attribute_not_exists(PK)');
      expect(input.Item?.tiers).to.deep.equal([
        { tier: 'business', fixedMonthlyUsd: 25 },
        { tier: 'enterprise', fixedMonthlyUsd: 900 },
        { tier: 'enterprise-account', fixedMonthlyUsd: 1800 },
      ]);
    });

    it('writes nothing when the stored model already has the value', async () => {
      ddb.on(GetCommand).resolves({ Item: storedItem(STORED) });

      const result = await costs.change(
        { kind: 'metric', cost: { metric: 'api.call', usd: 0.05, per: 1000 } },
        'x',
      );

      expect(result).to.deep.include({ changed: false });
      expect(ddb.commandCalls(PutCommand)).to.have.length(0);
    });

    it('reads again and reapplies the change when another writer got there first', async () => {
      const newer = { ...STORED, version: 5, tiers: [{ tier: 'business', fixedMonthlyUsd: 30 }] };
      ddb
        .on(GetCommand)
        .resolvesOnce({ Item: storedItem(STORED) })
        .resolves({ Item: storedItem(newer) });
      ddb.on(PutCommand).rejectsOnce(awsError('ConditionalCheckFailedException')).resolves({});

      const result = await costs.change(
        { kind: 'tier', cost: { tier: 'enterprise', fixedMonthlyUsd: 900 } },
        'x',
      );

      const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
      expect(puts).to.have.length(2);
      expect(puts[1].ExpressionAttributeValues).to.deep.equal({ ':version': 5 });
      expect(result.model.tiers).to.deep.equal([
        { tier: 'business', fixedMonthlyUsd: 30 },
        { tier: 'enterprise', fixedMonthlyUsd: 900 },
      ]);
    });

    it('gives up with exit 4 when the model keeps changing', async () => {
      ddb.on(GetCommand).resolves({ Item: storedItem(STORED) });
      ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));

      const err = await rejectionOf(
        costs.change({ kind: 'tier', cost: { tier: 'pro', fixedMonthlyUsd: 1 } }, 'x'),
      );

      expect(err.code).to.equal('CONCURRENT_CHANGE');
      expect(err.exitCode).to.equal(4);
      expect(ddb.commandCalls(PutCommand)).to.have.length(6);
    });
  });
});
