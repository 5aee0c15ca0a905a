import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import {
  DEFAULT_DIMENSIONS,
  DEFAULT_TIERS,
  isPooled,
  TierCatalog,
  type Tier,
} from '../../../src/lib/tenants/tiers.js';
import { awsError, ddb, documentClient, rejectionOf } from '../helpers/aws.js';

const TABLE = 'cp-table';

function storedTier(tier: Tier): Record<string, unknown> {
  return { PK: `TIER#${tier.name}`, SK: 'TIER', gsi1pk: 'TIER', gsi1sk: tier.name, entity: 'tier', ...tier };
}

const starter = DEFAULT_TIERS[0];
const pro = DEFAULT_TIERS[1];

describe('TierCatalog', () => {
  let tiers: TierCatalog;

  beforeEach(() => {
    ddb.reset();
    tiers = new TierCatalog(documentClient(), TABLE);
  });

  it('ships the five default tiers, pooled and siloed', () => {
    expect(DEFAULT_TIERS.map((t) => [t.name, t.isolation])).to.deep.equal([
      ['starter', 'pool'],
      ['pro', 'pool'],
      ['business', 'pool-dedicated-table'],
      ['enterprise', 'silo'],
      ['enterprise-account', 'silo-account'],
    ]);
  });

  it('counts pool and pool-dedicated-table as pooled, and silos as not', () => {
    expect(isPooled('pool')).to.equal(true);
    expect(isPooled('pool-dedicated-table')).to.equal(true);
    expect(isPooled('silo')).to.equal(false);
    expect(isPooled('silo-account')).to.equal(false);
  });

  describe('list', () => {
    it('queries the TIER partition of the listing index and returns tiers without storage keys', async () => {
      ddb.on(QueryCommand).resolves({ Items: [storedTier(starter), storedTier(pro)] });

      expect(await tiers.list()).to.deep.equal([starter, pro]);
      expect(ddb.commandCalls(QueryCommand)).to.have.length(1);
      expect(ddb.commandCalls(QueryCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :tier',
        ExpressionAttributeValues: { ':tier': 'TIER' },
        ExclusiveStartKey: undefined,
      });
    });

    it('follows LastEvaluatedKey across pages', async () => {
      const lastKey = { PK: 'TIER#starter', SK: 'TIER', gsi1pk: 'TIER', gsi1sk: 'starter' };
      ddb
        .on(QueryCommand)
        .resolvesOnce({ Items: [storedTier(starter)], LastEvaluatedKey: lastKey })
        .resolvesOnce({ Items: [storedTier(pro)] });

      expect((await tiers.list()).map((t) => t.name)).to.deep.equal(['starter', 'pro']);
      const starts = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input.ExclusiveStartKey);
      expect(starts).to.deep.equal([undefined, lastKey]);
    });

    it('fills a missing description and price with empty defaults', async () => {
      ddb.on(QueryCommand).resolves({ Items: [{ name: 'legacy', isolation: 'pool' }] });

      expect(await tiers.list()).to.deep.equal([
        { name: 'legacy', isolation: 'pool', description: '', monthlyPrice: 0 },
      ]);
    });

    it('reads a dimension mapping, telling an empty one (not billed on Marketplace) from none', async () => {
      ddb.on(QueryCommand).resolves({
        Items: [
          { name: 'free', isolation: 'pool', dimensions: [] },
          { name: 'edu', isolation: 'pool', dimensions: [{ metric: 'api.call', dimension: 'edu_calls' }] },
        ],
      });

      expect((await tiers.list()).map((t) => t.dimensions)).to.deep.equal([
        [],
        [{ metric: 'api.call', dimension: 'edu_calls' }],
      ]);
    });
  });

  describe('get and require', () => {
    it('reads the tier by its key', async () => {
      ddb.on(GetCommand).resolves({ Item: storedTier(pro) });

      expect(await tiers.require('pro')).to.deep.equal(pro);
      expect(ddb.commandCalls(GetCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Key: { PK: 'TIER#pro', SK: 'TIER' },
      });
      expect(ddb.commandCalls(QueryCommand)).to.have.length(0);
    });

    it('refuses an unknown tier with exit 2 UNKNOWN_TIER, listing the known tiers', async () => {
      ddb.on(GetCommand).resolves({});
      ddb.on(QueryCommand).resolves({ Items: [storedTier(starter), storedTier(pro)] });

      const err = await rejectionOf(tiers.require('platinum'));

      expect(err.code).to.equal('UNKNOWN_TIER');
      expect(err.exitCode).to.equal(2);
      expect(err.message).to.equal('Unknown tier "platinum": the tier must be one of starter, pro.');
      expect(err.actions).to.deep.equal(['See the tiers with `saasctl tier list`.']);
    });

    it('says (none) when the catalog has no tiers yet', async () => {
      ddb.on(GetCommand).resolves({});
      ddb.on(QueryCommand).resolves({ Items: [] });

      const err = await rejectionOf(tiers.require('pro'));

      expect(err.message).to.equal('Unknown tier "pro": the tier must be one of (none).');
    });
  });

  describe('seedDefaults', () => {
    it('writes every default tier only if it does not exist', async () => {
      ddb.on(PutCommand).resolves({});

      expect(await tiers.seedDefaults()).to.deep.equal([
        'starter',
        'pro',
        'business',
        'enterprise',
        'enterprise-account',
      ]);
      const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
      expect(puts).to.have.length(5);
      expect(puts[0]).to.deep.equal({
        TableName: TABLE,
        Item: {
          PK: 'TIER#starter',
          SK: 'TIER',
          gsi1pk: 'TIER',
          gsi1sk: 'starter',
          entity: 'tier',
          name: 'starter',
          isolation: 'pool',
          description: 'Pooled compute and tables, platform key',
          monthlyPrice: 49,
          dimensions: [
            { metric: 'api.call', dimension: 'api_calls' },
            { metric: 'doc.processed', dimension: 'documents' },
            { metric: 'storage.gb', dimension: 'storage_gb_hours' },
          ],
          limits: [
            { metric: 'api.call', quantity: 100_000 },
            { metric: 'doc.processed', quantity: 30 },
            { metric: 'storage.gb', quantity: 20 },
          ],
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      });
      expect(puts).to.deep.equal(
        DEFAULT_TIERS.map((tier) => ({
          TableName: TABLE,
          Item: storedTier(tier),
          ConditionExpression: 'attribute_not_exists(PK)',
        })),
      );
    });

    it('skips tiers that already exist and reports only the ones it created', async () => {
      ddb
        .on(PutCommand)
        .resolvesOnce({})
        .rejectsOnce(awsError('ConditionalCheckFailedException'))
        .resolvesOnce({})
        .rejectsOnce(awsError('ConditionalCheckFailedException'))
        .resolvesOnce({});

      expect(await tiers.seedDefaults()).to.deep.equal(['starter', 'business', 'enterprise-account']);
      expect(ddb.commandCalls(PutCommand)).to.have.length(5);
    });

    it('gives an existing tier without a dimension mapping or plan limits the default ones, never replacing them', async () => {
      ddb.on(PutCommand).resolvesOnce({}).rejects(awsError('ConditionalCheckFailedException'));
      ddb.on(UpdateCommand).resolves({});

      expect(await tiers.seedDefaults()).to.deep.equal(['starter']);

      expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input)).to.deep.equal(
        DEFAULT_TIERS.slice(1).flatMap((tier) => [
          {
            TableName: TABLE,
            Key: { PK: `TIER#${tier.name}`, SK: 'TIER' },
            UpdateExpression: 'SET #dimensions = if_not_exists(#dimensions, :dimensions)',
            ExpressionAttributeNames: { '#dimensions': 'dimensions' },
            ExpressionAttributeValues: { ':dimensions': DEFAULT_DIMENSIONS },
          },
          {
            TableName: TABLE,
            Key: { PK: `TIER#${tier.name}`, SK: 'TIER' },
            UpdateExpression: 'SET #limits = if_not_exists(#limits, :limits)',
            ExpressionAttributeNames: { '#limits': 'limits' },
            ExpressionAttributeValues: { ':limits': tier.limits },
          },
        ]),
      );
      expect(DEFAULT_TIERS.every((tier) => tier.limits && tier.limits.length === 3)).to.equal(true);
    });

    it('reads plan limits back as numbers', async () => {
      ddb.on(GetCommand).resolves({
        Item: { name: 'edu', isolation: 'pool', limits: [{ metric: 'api.call', quantity: 5000 }] },
      });

      expect((await tiers.require('edu')).limits).to.deep.equal([{ metric: 'api.call', quantity: 5000 }]);
    });

    it('creates nothing and reports nothing when every tier exists', async () => {
      ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));

      expect(await tiers.seedDefaults()).to.deep.equal([]);
    });

    it('seeds the tiers it is given', async () => {
      const custom: Tier = { name: 'edu', isolation: 'pool', description: 'Education', monthlyPrice: 0 };
      ddb.on(PutCommand).resolves({});

      expect(await tiers.seedDefaults([custom])).to.deep.equal(['edu']);
      expect(ddb.commandCalls(PutCommand)[0].args[0].input.Item).to.deep.equal(storedTier(custom));
    });

    it('stops at the first failure that is not an existing tier', async () => {
      ddb.on(PutCommand).resolvesOnce({}).rejectsOnce(awsError('AccessDeniedException'));

      let failure: unknown;
      await tiers.seedDefaults().catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'AccessDeniedException');
      expect(ddb.commandCalls(PutCommand)).to.have.length(2);
    });
  });
});
