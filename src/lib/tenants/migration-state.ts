import { createHash, randomUUID } from 'node:crypto';

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { conflict, isAwsError } from '../cli/errors.js';
import { sdk } from '../platform/sdk.js';
import { BATCH_WRITE_LIMIT, chunk, untilProcessed, type RetryOptions } from './batch.js';
import { keyId, type Item, type ItemKey } from './migration-digest.js';
import { keys } from './keys.js';
import type { MigrationPlan } from './migration-plan.js';
import type { IsolationModel } from './model.js';

/**
 * A migration's checkpoint, kept in the catalog on the tenant's record (attribute `migration`)
 * so that a killed run is carried on by the next one, and so that data writers, which read the
 * record anyway, see whether to journal their writes. Not versioned with the record (the
 * record's `version` guards status and placement); guarded by its own `rev` instead.
 */

export type MigrationDirection = 'promote' | 'demote';

export const MIGRATION_PHASES = [
  /** Checkpoint written, plan recorded; nothing provisioned yet. */
  'STARTED',
  /** Target resources exist (same steps as silo onboarding) and hold none of the tenant's items. */
  'PROVISIONED',
  /** Writers journal their writes; the copy runs, its cursors checkpointed per page. */
  'COPYING',
  /** Every segment copied. */
  'COPIED',
  /** Tenant MIGRATING: writes refused; catch-up and verify run. */
  'FROZEN',
  /** Catalog flipped to the target; the old copy waits for cleanup. */
  'CUT_OVER',
  /** Old copy deleted (or superseded by a later migration). */
  'DONE',
  /** Verify found a difference: nothing was cut over; the tenant stays where it was, ACTIVE. */
  'ABORTED',
] as const;
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];

/** Where a tenant's data lives on one side of a migration. */
export interface Placement {
  readonly tier: string;
  readonly isolation: IsolationModel;
  readonly table: string;
  readonly region: string;
  readonly accountId?: string;
}

/** One parallel-scan segment of the copy: where it resumes, and what it has copied so far. */
export interface SegmentCursor {
  readonly done: boolean;
  /** The ExclusiveStartKey of the next page; absent before the first page. */
  readonly startKey?: Item;
  readonly items: number;
  readonly bytes: number;
}

export interface Difference {
  readonly PK: string;
  readonly SK: string;
  /** missing: in the source only; extra: in the target only; differs: in both, not equal. */
  readonly kind: 'missing' | 'extra' | 'differs';
}

export interface VerifyReport {
  readonly sourceItems: number;
  readonly targetItems: number;
  readonly sourceDigest: string;
  readonly targetDigest: string;
  readonly equal: boolean;
  /** How many items differ, and the first few of them. */
  readonly differenceCount: number;
  readonly differences: readonly Difference[];
  /** Why it failed, in words, when it did. */
  readonly reason?: string;
}

export interface MigrationTimes {
  readonly startedAt: string;
  readonly provisionedAt?: string;
  readonly copyStartedAt?: string;
  readonly copiedAt?: string;
  readonly frozenAt?: string;
  readonly cutoverAt?: string;
  readonly cleanedAt?: string;
  readonly abortedAt?: string;
}

export interface MigrationState {
  readonly id: string;
  readonly rev: number;
  readonly direction: MigrationDirection;
  readonly phase: MigrationPhase;
  readonly from: Placement;
  readonly to: Placement;
  readonly actor: string;
  readonly reason?: string;
  /** The plan as it stood when the migration started. */
  readonly plan: MigrationPlan;
  readonly segments: readonly SegmentCursor[];
  /**
   * Whether the target may hold items of the tenant from before (an aborted attempt, a
   * superseded cleanup): they are deleted before the copy. Otherwise verify would report them.
   */
  readonly clearTarget: boolean;
  /** Items the target held before the copy, deleted first. */
  readonly cleared?: number;
  /** Items re-copied from the journal (writes made during the copy). */
  readonly replayed?: number;
  readonly verify?: VerifyReport;
  readonly graceHours: number;
  /** When the old copy may be deleted (CUT_OVER). */
  readonly cleanupAfter?: string;
  readonly cleanedItems?: number;
  readonly supersededBy?: string;
  readonly times: MigrationTimes;
}

/** While these phases last, writers journal every write. */
export const JOURNALED_PHASES: readonly MigrationPhase[] = ['COPYING', 'COPIED', 'FROZEN'];
/** Phases a run carries on from (CUT_OVER only has its cleanup left). */
export const IN_FLIGHT_PHASES: readonly MigrationPhase[] = [
  'STARTED',
  'PROVISIONED',
  'COPYING',
  'COPIED',
  'FROZEN',
];

const ATTRIBUTE = 'migration';

interface Guard {
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

export class MigrationStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(tenantId: string): Promise<MigrationState | undefined> {
    const { Item } = await this.db.send(
      new (sdk.documents().GetCommand)({
        TableName: this.table,
        Key: keys.tenant(tenantId),
        ConsistentRead: true,
        ProjectionExpression: '#m',
        ExpressionAttributeNames: { '#m': ATTRIBUTE },
      }),
    );
    return Item?.[ATTRIBUTE] as MigrationState | undefined;
  }

  /**
   * Writes a new migration's first checkpoint, only if the one this run looked at is still
   * there (or there was none): two runs starting at once cannot both win.
   */
  async start(tenantId: string, state: MigrationState, previous?: MigrationState): Promise<MigrationState> {
    const first = { ...state, rev: 1 };
    const guard: Guard = previous
      ? {
          ConditionExpression: 'attribute_exists(PK) AND #m.#id = :previous AND #m.#rev = :previousRev',
          ExpressionAttributeNames: { '#m': ATTRIBUTE, '#id': 'id', '#rev': 'rev' },
          ExpressionAttributeValues: {
            ':state': first,
            ':previous': previous.id,
            ':previousRev': previous.rev,
          },
        }
      : {
          ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(#m)',
          ExpressionAttributeNames: { '#m': ATTRIBUTE },
          ExpressionAttributeValues: { ':state': first },
        };
    await this.update(tenantId, guard, state.id);
    return first;
  }

  /** Saves the next checkpoint of the migration whose revision `rev` this run holds. */
  async save(tenantId: string, state: MigrationState): Promise<MigrationState> {
    const next = { ...state, rev: state.rev + 1 };
    await this.update(
      tenantId,
      {
        ConditionExpression: '#m.#id = :id AND #m.#rev = :rev',
        ExpressionAttributeNames: { '#m': ATTRIBUTE, '#id': 'id', '#rev': 'rev' },
        ExpressionAttributeValues: { ':state': next, ':id': state.id, ':rev': state.rev },
      },
      state.id,
    );
    return next;
  }

  private async update(tenantId: string, guard: Guard, migrationId: string): Promise<void> {
    try {
      await this.db.send(
        new (sdk.documents().UpdateCommand)({
          TableName: this.table,
          Key: keys.tenant(tenantId),
          UpdateExpression: 'SET #m = :state',
          ...guard,
        }),
      );
    } catch (err) {
      if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
      throw conflict(
        'MIGRATION_CONCURRENT',
        `Another saasctl run is migrating tenant "${tenantId}": its checkpoint changed under this one (migration ${migrationId}).`,
        ['Let the other run finish, or re-run with --resume once it has stopped.'],
      );
    }
  }
}

/** A new migration id (a UUID: also the journal's partition). */
export function newMigrationId(): string {
  return randomUUID();
}

export interface JournalEntry {
  readonly key: ItemKey;
  /** Changes on every write of the key: a replay remembers the nonce it handled. */
  readonly nonce: string;
  readonly at: string;
}

function journalKeyHash(key: ItemKey): string {
  return createHash('sha256').update(keyId(key)).digest('hex');
}

/**
 * The change journal of a migration, in the control-plane table under `MIGRATION#<id>`: one
 * entry per data item written while the migration copies (a later write of the same item
 * overwrites its entry with a new nonce). Data writers record entries before they write the
 * items; the migration replays them, and once more for those written again, during the freeze.
 */
export class MigrationJournal {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly retry: RetryOptions = {},
  ) {}

  async record(migrationId: string, itemKeys: readonly ItemKey[], at = new Date()): Promise<void> {
    const lib = sdk.documents();
    // A batch may not name one key twice: keep one entry per item key.
    const unique = new Map(itemKeys.map((k) => [journalKeyHash(k), k]));
    const requests = [...unique].map(([hash, key]) => ({
      PutRequest: {
        Item: {
          ...keys.journalEntry(migrationId, hash),
          itemPK: key.PK,
          itemSK: key.SK,
          nonce: randomUUID(),
          at: at.toISOString(),
        },
      },
    }));
    for (const batch of chunk(requests, BATCH_WRITE_LIMIT)) {
      await untilProcessed(
        batch,
        async (pending) => {
          const { UnprocessedItems } = await this.db.send(
            new lib.BatchWriteCommand({ RequestItems: { [this.table]: [...pending] } }),
          );
          return (UnprocessedItems?.[this.table] ?? []) as typeof batch;
        },
        this.retry,
      );
    }
  }

  async entries(migrationId: string): Promise<JournalEntry[]> {
    const lib = sdk.documents();
    const entries: JournalEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new lib.QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': keys.migrationJournal(migrationId) },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        entries.push({
          key: { PK: String(item.itemPK), SK: String(item.itemSK) },
          nonce: String(item.nonce),
          at: String(item.at),
        });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return entries;
  }

  /** Deletes the journal (after cutover or abort); returns how many entries it held. */
  async clear(migrationId: string): Promise<number> {
    const lib = sdk.documents();
    const entries = await this.entries(migrationId);
    const requests = entries.map((e) => ({
      DeleteRequest: { Key: keys.journalEntry(migrationId, journalKeyHash(e.key)) },
    }));
    for (const batch of chunk(requests, BATCH_WRITE_LIMIT)) {
      await untilProcessed(
        batch,
        async (pending) => {
          const { UnprocessedItems } = await this.db.send(
            new lib.BatchWriteCommand({ RequestItems: { [this.table]: [...pending] } }),
          );
          return (UnprocessedItems?.[this.table] ?? []) as typeof batch;
        },
        this.retry,
      );
    }
    return entries.length;
  }
}
