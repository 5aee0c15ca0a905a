import type { DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { conflict, ExitCode, notFound, SaasctlError, usageError } from '../cli/errors.js';
import { sdk } from '../platform/sdk.js';
import { backoffMs, BATCH_WRITE_LIMIT, chunk, Limiter, realSleep, type RetryOptions } from './batch.js';
import { itemKey, keyAttributes, type Item, type ItemKey } from './migration-digest.js';
import { JOURNALED_PHASES, MigrationJournal, type MigrationState } from './migration-state.js';
import { keys } from './keys.js';
import type { IsolationModel, Tenant, TenantStatus } from './model.js';
import { isPooled } from './tiers.js';

/**
 * Writing a tenant's application data: where it lives now, whether it may be written now, and
 * the writer that saasctl (`tenant seed`) and the runtime use. The writer is what makes a
 * migration safe without transactions: it refuses writes while the tenant is MIGRATING, and
 * journals every write while a migration copies, before it writes.
 */

/**
 * The longest a writer may take from reading the tenant's status to sending its write. The
 * writer below re-reads the status when its last read is older; a migration waits twice this
 * (`settleMs`) after switching the journal on and after freezing, so that a write decided on
 * the old status has landed before it reads. The runtime must keep the same bound.
 */
export const WRITER_DEADLINE_MS: Readonly<Record<'local' | 'aws', number>> = { local: 250, aws: 1000 };

export function settleMs(target: 'local' | 'aws'): number {
  return 2 * WRITER_DEADLINE_MS[target];
}

/** Seconds a refused writer should wait before it retries (HTTP Retry-After in the runtime). */
export const MIGRATING_RETRY_AFTER_SECONDS = 5;

/** Whether a partition key is the tenant's: exactly `TENANT#<id>` or `TENANT#<id>#<shard>`. */
export function isTenantPartition(tenantId: string, partitionKey: string): boolean {
  const partition = keys.tenantPartition(tenantId);
  return partitionKey === partition || partitionKey.startsWith(`${partition}#`);
}

/**
 * The check every writer of tenant data makes before it writes. MIGRATING is the freeze of a
 * promotion or demotion: refused with a retryable error (exit 4, `details.retryable`); the
 * runtime answers it with 503 and Retry-After.
 */
export function assertWritable(tenant: Pick<Tenant, 'tenantId' | 'status'>): void {
  if (tenant.status === 'ACTIVE') return;
  if (tenant.status === 'MIGRATING') {
    throw new SaasctlError(
      'TENANT_MIGRATING',
      `Tenant "${tenant.tenantId}" is MIGRATING (its data is moving between pool and silo): writes are refused until the cutover, a few seconds; retry then.`,
      {
        exitCode: ExitCode.conflict,
        actions: [
          `Retry in ${MIGRATING_RETRY_AFTER_SECONDS} s; see \`saasctl tenant show ${tenant.tenantId}\`.`,
        ],
        details: { retryable: true, retryAfterSeconds: MIGRATING_RETRY_AFTER_SECONDS },
      },
    );
  }
  throw conflict(
    'TENANT_NOT_WRITABLE',
    `Tenant "${tenant.tenantId}" is ${tenant.status}: only an ACTIVE tenant's data may be written.`,
  );
}

/** The table a tenant's data lives in now: its isolation model decides, not a table name. */
export function dataTableOf(
  tenant: Pick<Tenant, 'tenantId' | 'isolation' | 'dataTable'>,
  pooledTable: string,
): string {
  if (isPooled(tenant.isolation)) return pooledTable;
  if (!tenant.dataTable) {
    throw conflict('TENANT_TABLE_MISSING', `Silo tenant "${tenant.tenantId}" has no data table recorded.`);
  }
  return tenant.dataTable;
}

/** What a writer needs from the tenant record: status, placement, and a running migration. */
export interface WriteContext {
  readonly tenantId: string;
  readonly status: TenantStatus;
  readonly isolation: IsolationModel;
  readonly region: string;
  readonly accountId?: string;
  readonly table: string;
  /** Set while a migration copies: writes are journaled under this id first. */
  readonly journalTo?: string;
}

export interface TenantDataWriterOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly controlPlaneTable: string;
  readonly pooledTable: string;
  /** The DynamoDB client where a tenant's data lives (its region, its account). */
  readonly dataClient: (context: WriteContext) => DynamoDBClient;
  readonly deadlineMs: number;
  /** Batches in flight at once (default 8). */
  readonly concurrency?: number;
  readonly retry?: RetryOptions;
  readonly now?: () => number;
}

export interface WriteResult {
  readonly table: string;
  readonly written: number;
  /** Writes also recorded in a running migration's journal. */
  readonly journaled: number;
}

/**
 * saasctl's writer of tenant data. Per batch of 25: a consistent read of the tenant's record
 * (reused for at most the deadline), `assertWritable`, the journal entries when a migration
 * is copying, then the BatchWriteItem to wherever the data lives now. Every key must be the
 * tenant's own (`TENANT#<id>` or `TENANT#<id>#<shard>`).
 */
export class TenantDataWriter {
  private readonly journal: MigrationJournal;
  private readonly limiter: Limiter;
  private readonly now: () => number;
  private cached?: { tenantId: string; at: number; context: Promise<WriteContext> };

  constructor(private readonly options: TenantDataWriterOptions) {
    this.journal = new MigrationJournal(options.documents, options.controlPlaneTable, options.retry);
    this.limiter = new Limiter(options.concurrency ?? 8);
    this.now = options.now ?? Date.now;
  }

  async put(tenantId: string, items: readonly Item[]): Promise<WriteResult> {
    const requests = items.map((item) => ({
      key: ownKey(tenantId, itemKey(item)),
      request: { PutRequest: { Item: item } } as WriteRequest,
    }));
    return this.write(tenantId, requests);
  }

  async delete(tenantId: string, itemKeys: readonly ItemKey[]): Promise<WriteResult> {
    const requests = itemKeys.map((key) => ({
      key: ownKey(tenantId, key),
      request: { DeleteRequest: { Key: keyAttributes(key) } } as WriteRequest,
    }));
    return this.write(tenantId, requests);
  }

  /**
   * The tenant's status and placement, read at `at`. A read is shared by the batches sent
   * within half the deadline of it.
   */
  async context(tenantId: string): Promise<{ context: WriteContext; at: number }> {
    const now = this.now();
    if (this.cached?.tenantId === tenantId && now - this.cached.at < this.options.deadlineMs / 2) {
      return { context: await this.cached.context, at: this.cached.at };
    }
    const context = this.readContext(tenantId);
    this.cached = { tenantId, at: now, context };
    context.catch(() => {
      if (this.cached?.context === context) this.cached = undefined;
    });
    return { context: await context, at: now };
  }

  private async write(
    tenantId: string,
    requests: readonly { key: ItemKey; request: WriteRequest }[],
  ): Promise<WriteResult> {
    let table = '';
    let journaled = 0;
    const maxRounds = this.options.retry?.maxRounds ?? 10;
    const sleep = this.options.retry?.sleep ?? realSleep;
    await this.limiter.all(
      chunk(requests, BATCH_WRITE_LIMIT).map((batch) => async () => {
        let journaledTo: string | undefined;
        let pending: readonly WriteRequest[] = batch.map((r) => r.request);
        // Every round, including a resend of UnprocessedItems, is decided on a fresh enough status.
        for (let round = 0; pending.length > 0;) {
          const { context, at } = await this.context(tenantId);
          assertWritable(context);
          if (context.journalTo && context.journalTo !== journaledTo) {
            // Before the write: a crash in between leaves an entry for an unchanged item,
            // which the migration merely copies again.
            await this.journal.record(
              context.journalTo,
              batch.map((r) => r.key),
            );
            if (journaledTo === undefined) journaled += batch.length;
            journaledTo = context.journalTo;
          }
          // The status read is too old to act on by now (the journal write was slow): read again.
          if (this.now() - at > this.options.deadlineMs) continue;
          if (round >= maxRounds) {
            throw new SaasctlError(
              'DYNAMODB_THROTTLED',
              `DynamoDB left ${pending.length} writes of tenant "${tenantId}" unprocessed ${maxRounds} times in a row.`,
              { actions: ['Write them again later.'] },
            );
          }
          if (round > 0) await sleep(backoffMs(round));
          table = context.table;
          pending = await this.sendOnce(context, pending);
          round++;
        }
      }),
    );
    return { table, written: requests.length, journaled };
  }

  /** One BatchWriteItem; returns what DynamoDB left unprocessed. */
  private async sendOnce(
    context: WriteContext,
    requests: readonly WriteRequest[],
  ): Promise<readonly WriteRequest[]> {
    const client = this.options.dataClient(context);
    const { BatchWriteItemCommand } = sdk.dynamodb();
    const { UnprocessedItems } = await client.send(
      new BatchWriteItemCommand({ RequestItems: { [context.table]: [...requests] } }),
    );
    return UnprocessedItems?.[context.table] ?? [];
  }

  private async readContext(tenantId: string): Promise<WriteContext> {
    const { Item } = await this.options.documents.send(
      new (sdk.documents().GetCommand)({
        TableName: this.options.controlPlaneTable,
        Key: keys.tenant(tenantId),
        ConsistentRead: true,
        ProjectionExpression: '#status, #isolation, #region, #account, #table, #migration',
        ExpressionAttributeNames: {
          '#status': 'status',
          '#isolation': 'isolation',
          '#region': 'region',
          '#account': 'accountId',
          '#table': 'dataTable',
          '#migration': 'migration',
        },
      }),
    );
    if (!Item) {
      throw notFound('TENANT_NOT_FOUND', `No tenant "${tenantId}" in the catalog.`, [
        'List tenants with `saasctl tenant list`.',
      ]);
    }
    const migration = Item.migration as MigrationState | undefined;
    const isolation = Item.isolation as IsolationModel;
    return {
      tenantId,
      status: Item.status as TenantStatus,
      isolation,
      region: String(Item.region),
      ...(Item.accountId ? { accountId: String(Item.accountId) } : {}),
      table: dataTableOf(
        { tenantId, isolation, dataTable: Item.dataTable as string | undefined },
        this.options.pooledTable,
      ),
      ...(migration && JOURNALED_PHASES.includes(migration.phase) ? { journalTo: migration.id } : {}),
    };
  }
}

function ownKey(tenantId: string, key: ItemKey): ItemKey {
  if (!isTenantPartition(tenantId, key.PK)) {
    throw usageError(
      'FOREIGN_PARTITION_KEY',
      `Item key ${key.PK} is not tenant "${tenantId}"'s: a tenant's items have the partition key TENANT#${tenantId} or TENANT#${tenantId}#<shard>.`,
    );
  }
  return key;
}
