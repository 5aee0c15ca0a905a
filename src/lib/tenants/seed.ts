import { createHash } from 'node:crypto';

import { usageError } from '../cli/errors.js';
import type { Reporter } from '../cli/reporter.js';
import { tenantClients } from './context.js';
import type { PlatformSource } from './lifecycle.js';
import type { Item } from './migration-digest.js';
import { assertTenantId } from './model.js';
import { TenantDataWriter, WRITER_DEADLINE_MS } from './tenant-data.js';
import { isPooled } from './tiers.js';

/**
 * `tenant seed`: synthetic application items for demos, tests and benchmarks, written through
 * the same writer as real data (so it is refused while the tenant is MIGRATING, and journaled
 * while a migration copies) into wherever the tenant's data lives now.
 */

export const MAX_SEED_ITEMS = 1_000_000;
export const MIN_ITEM_BYTES = 100;
export const MAX_ITEM_BYTES = 350_000;
export const DEFAULT_ITEM_BYTES = 256;
/** Items are spread over the tenant's plain partition and three shards. */
export const SEED_SHARDS = 4;

export interface SeedRequest {
  readonly tenantId: string;
  readonly items: number;
  readonly itemBytes?: number;
  /** Index of the first item (default 0): seeding again from elsewhere adds items. */
  readonly from?: number;
  /** Content generation (default 1): seeding the same indexes with another revision changes them. */
  readonly revision?: number;
}

export interface SeedResult {
  readonly tenantId: string;
  readonly table: string;
  readonly items: number;
  readonly from: number;
  readonly revision: number;
  readonly itemBytes: number;
  /** Writes also recorded in a running migration's journal. */
  readonly journaled: number;
  readonly ms: number;
  readonly itemsPerSecond: number;
}

function wholeIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw usageError('INVALID_SEED', `Invalid ${name} ${value}: it is a whole number from ${min} to ${max}.`);
  }
  return value;
}

export function validateSeedRequest(request: SeedRequest): Required<SeedRequest> {
  return {
    tenantId: assertTenantId(request.tenantId),
    items: wholeIn('--items', request.items, 1, MAX_SEED_ITEMS),
    itemBytes: wholeIn(
      '--item-bytes',
      request.itemBytes ?? DEFAULT_ITEM_BYTES,
      MIN_ITEM_BYTES,
      MAX_ITEM_BYTES,
    ),
    from: wholeIn('--from', request.from ?? 0, 0, 99_999_999),
    revision: wholeIn('--revision', request.revision ?? 1, 1, 1_000_000),
  };
}

/**
 * Item `index` of a tenant, as generation `revision` makes it: deterministic, about `bytes`
 * bytes as DynamoDB counts them, with a string, numbers, a set, a map and a binary attribute.
 */
export function syntheticItem(tenantId: string, index: number, revision: number, bytes: number): Item {
  const shard = index % SEED_SHARDS;
  const PK = shard === 0 ? `TENANT#${tenantId}` : `TENANT#${tenantId}#${shard}`;
  const SK = `ITEM#${String(index).padStart(8, '0')}`;
  const seed = createHash('sha256').update(`${tenantId}:${index}:${revision}`).digest();
  const fixed = PK.length + SK.length + 90;
  const payloadLength = Math.max(16, bytes - fixed);
  const hex = seed.toString('hex');
  return {
    PK: { S: PK },
    SK: { S: SK },
    kind: { S: 'synthetic' },
    seq: { N: String(index) },
    rev: { N: String(revision) },
    score: { N: (seed.readUInt16BE(0) / 100).toString() },
    tags: { SS: ['seed', `rev-${revision}`] },
    meta: { M: { even: { BOOL: index % 2 === 0 }, shard: { N: String(shard) } } },
    blob: { B: seed.subarray(0, 8) },
    payload: { S: hex.repeat(Math.ceil(payloadLength / hex.length)).slice(0, payloadLength) },
  };
}

export async function seedTenant(
  open: PlatformSource,
  input: SeedRequest,
  reporter: Reporter,
): Promise<SeedResult> {
  const request = validateSeedRequest(input);
  const platform = await open();
  if (platform.target.name !== 'local') {
    throw usageError(
      'SEED_LOCAL_ONLY',
      'tenant seed writes synthetic data, and only on the local target: real tenants hold real data.',
    );
  }
  const { config, clients } = platform;
  const writer = new TenantDataWriter({
    documents: clients.documents(),
    controlPlaneTable: config.tables.controlPlane,
    pooledTable: config.tables.pooled,
    dataClient: (context) =>
      isPooled(context.isolation)
        ? clients.dynamodb()
        : tenantClients(platform, context.region, context.accountId).dynamodb(),
    deadlineMs: WRITER_DEADLINE_MS.local,
  });
  const step = reporter.step(`seed ${request.items} items for ${request.tenantId}`);
  const started = Date.now();
  let table = '';
  let journaled = 0;
  let written = 0;
  const slice = 1000;
  try {
    for (let start = 0; start < request.items; start += slice) {
      const items: Item[] = [];
      for (let i = start; i < Math.min(request.items, start + slice); i++) {
        items.push(syntheticItem(request.tenantId, request.from + i, request.revision, request.itemBytes));
      }
      const result = await writer.put(request.tenantId, items);
      table = result.table;
      journaled += result.journaled;
      written += items.length;
      reporter.progress?.(`seed ${written}/${request.items} items`, written === request.items);
    }
  } catch (err) {
    step.failed(err instanceof Error && 'code' in err ? String(err.code) : undefined);
    throw err;
  }
  const ms = Date.now() - started;
  step.done(`${table}${journaled > 0 ? `, ${journaled} journaled for a running migration` : ''}`);
  return {
    tenantId: request.tenantId,
    table,
    items: written,
    from: request.from,
    revision: request.revision,
    itemBytes: request.itemBytes,
    journaled,
    ms,
    itemsPerSecond: ms > 0 ? Math.round(written / (ms / 1000)) : written,
  };
}
