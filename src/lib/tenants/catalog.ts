import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { conflict, isAwsError, notFound, SaasctlError } from '../cli/errors.js';
import { pickFields, queryAll } from '../platform/dynamo.js';
import { sdk } from '../platform/sdk.js';
import { CONTROL_PLANE_INDEX, keys } from './keys.js';
import type { AuditRecord, IsolationModel, Tenant, TenantStatus } from './model.js';

export interface NewTenant {
  readonly tenantId: string;
  readonly name: string;
  readonly tier: string;
  readonly isolation: IsolationModel;
  readonly region: string;
  readonly adminEmail: string;
  readonly planPrice?: number;
  readonly marketplaceAccountId?: string;
  readonly licenseArn?: string;
  readonly marketplaceCustomer?: string;
}

export interface TenantFilter {
  readonly tier?: string;
  readonly status?: TenantStatus;
}

export interface ChangeRequest {
  readonly actor: string;
  readonly reason?: string;
}

/** Fields changed by `update`: descriptive ones, and the silo resources workflows attach. */
const UPDATABLE_FIELDS = [
  'name',
  'planPrice',
  'dataTable',
  'keyArn',
  'accountId',
  'accountRequestId',
  'marketplaceAccountId',
  'licenseArn',
  'marketplaceCustomer',
] as const;
/** A field set to null is removed (a Marketplace buyer moving from one identity to the other). */
export type UpdatableFields = {
  readonly [K in (typeof UPDATABLE_FIELDS)[number]]?: Tenant[K] | null;
};

/** Where a tenant's onboarding or offboarding workflow stands (shown by `tenant status`). */
export interface WorkflowProgress {
  readonly workflow: string;
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  readonly step?: string;
  readonly completedSteps: readonly string[];
  readonly error?: { readonly name: string; readonly message: string };
  readonly executionArn?: string;
  readonly updatedAt: string;
}

/** Which status may follow which (DESIGN.md lifecycle). */
export const ALLOWED_TRANSITIONS: Readonly<Record<TenantStatus, readonly TenantStatus[]>> = {
  PROVISIONING: ['ACTIVE', 'OFFBOARDING'],
  ACTIVE: ['SUSPENDED', 'MIGRATING', 'OFFBOARDING'],
  SUSPENDED: ['ACTIVE', 'OFFBOARDING'],
  MIGRATING: ['ACTIVE'],
  OFFBOARDING: ['DELETED'],
  DELETED: [],
};

export interface TransitionResult {
  readonly tenant: Tenant;
  /** False when the tenant already had the target status: nothing was written. */
  readonly changed: boolean;
}

const MAX_CONFLICT_RETRIES = 5;

/**
 * The tenant catalog in the control-plane table. Every change is one conditional write on
 * `version` (no transactions: dynalite lacks them and single-item writes scale better), and
 * leaves an audit item. The change being made rides on the tenant item itself (`lastChange`),
 * so an audit item lost to a crash between the two writes is rewritten by the next change.
 */
export class TenantCatalog {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(tenantId: string): Promise<Tenant | undefined> {
    const { Item } = await this.db.send(
      new (sdk.documents().GetCommand)({
        TableName: this.table,
        Key: keys.tenant(tenantId),
        ConsistentRead: true,
      }),
    );
    return Item ? toTenant(Item) : undefined;
  }

  async require(tenantId: string): Promise<Tenant> {
    const tenant = await this.get(tenantId);
    if (!tenant) {
      throw notFound('TENANT_NOT_FOUND', `No tenant "${tenantId}" in the catalog.`, [
        'List tenants with `saasctl tenant list`.',
      ]);
    }
    return tenant;
  }

  /**
   * Creates the tenant in PROVISIONING. Returns the existing record (created: false) when one
   * is already there: the caller decides whether it matches the request.
   */
  async create(input: NewTenant, change: ChangeRequest): Promise<{ tenant: Tenant; created: boolean }> {
    const at = this.now().toISOString();
    const tenant: Tenant = {
      tenantId: input.tenantId,
      name: input.name,
      tier: input.tier,
      isolation: input.isolation,
      status: 'PROVISIONING',
      region: input.region,
      adminEmail: input.adminEmail,
      ...(input.planPrice === undefined ? {} : { planPrice: input.planPrice }),
      ...(input.marketplaceAccountId === undefined
        ? {}
        : { marketplaceAccountId: input.marketplaceAccountId }),
      ...(input.licenseArn === undefined ? {} : { licenseArn: input.licenseArn }),
      ...(input.marketplaceCustomer === undefined ? {} : { marketplaceCustomer: input.marketplaceCustomer }),
      version: 1,
      createdAt: at,
      updatedAt: at,
    };
    const audit: AuditRecord = {
      tenantId: input.tenantId,
      at,
      action: 'create',
      actor: change.actor,
      ...(change.reason ? { reason: change.reason } : {}),
      version: 1,
      toStatus: 'PROVISIONING',
    };
    try {
      await this.db.send(
        new (sdk.documents().PutCommand)({
          TableName: this.table,
          Item: {
            ...keys.tenant(input.tenantId),
            ...keys.tenantListing(input.tenantId),
            entity: 'tenant',
            ...tenant,
            lastChange: audit,
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
    } catch (err) {
      if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
      return { tenant: await this.require(input.tenantId), created: false };
    }
    await this.writeAudit(audit);
    return { tenant, created: true };
  }

  async list(filter: TenantFilter = {}): Promise<Tenant[]> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':tenant': 'TENANT' };
    const conditions: string[] = [];
    if (filter.tier) {
      names['#tier'] = 'tier';
      values[':tier'] = filter.tier;
      conditions.push('#tier = :tier');
    }
    if (filter.status) {
      names['#status'] = 'status';
      values[':status'] = filter.status;
      conditions.push('#status = :status');
    }
    const items = await queryAll(this.db, {
      TableName: this.table,
      IndexName: CONTROL_PLANE_INDEX,
      KeyConditionExpression: 'gsi1pk = :tenant',
      ...(conditions.length > 0
        ? { FilterExpression: conditions.join(' AND '), ExpressionAttributeNames: names }
        : {}),
      ExpressionAttributeValues: values,
    });
    return items.map(toTenant);
  }

  /** The most recent audit records first. */
  async audit(tenantId: string, limit = 20): Promise<AuditRecord[]> {
    const { Items } = await this.db.send(
      new (sdk.documents().QueryCommand)({
        TableName: this.table,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :audit)',
        ExpressionAttributeValues: { ':pk': keys.tenantPartition(tenantId), ':audit': keys.auditPrefix },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (Items ?? []).map(toAudit);
  }

  /**
   * Moves a tenant to `to`. Already there: success, nothing written. Not allowed from the
   * current status: a conflict (exit 4). A concurrent change: re-read and decide again.
   */
  async transition(
    tenantId: string,
    to: TenantStatus,
    change: ChangeRequest & {
      readonly action: string;
      /** Narrows the statuses this change may start from (default: any that may become `to`). */
      readonly from?: readonly TenantStatus[];
    },
  ): Promise<TransitionResult> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.require(tenantId);
      if (current.status === to) return { tenant: current, changed: false };
      if (
        !ALLOWED_TRANSITIONS[current.status].includes(to) ||
        (change.from && !change.from.includes(current.status))
      ) {
        throw conflict(
          'INVALID_TRANSITION',
          `Tenant "${tenantId}" is ${current.status}: ${change.action} needs it to be ${(
            change.from ?? statusesLeadingTo(to)
          ).join(' or ')}.`,
        );
      }
      const updated = await this.write(current, { status: to, statusReason: change.reason }, change, {
        action: change.action,
        fromStatus: current.status,
        toStatus: to,
      });
      if (updated) return { tenant: updated, changed: true };
      if (attempt >= MAX_CONFLICT_RETRIES) throw concurrentChange(tenantId);
    }
  }

  /**
   * The cutover of a promotion or demotion: one conditional write on `version` moves a
   * MIGRATING tenant to its new tier and data placement (isolation, data table, key; an absent
   * table or key is removed) and back to ACTIVE, with its audit record. Already there and
   * ACTIVE: success, nothing written. Any other status: a conflict.
   */
  async relocate(
    tenantId: string,
    placement: Pick<Tenant, 'tier' | 'isolation' | 'dataTable' | 'keyArn'>,
    change: ChangeRequest & { readonly action: string },
  ): Promise<TransitionResult> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.require(tenantId);
      if (
        current.status === 'ACTIVE' &&
        current.tier === placement.tier &&
        current.isolation === placement.isolation
      ) {
        return { tenant: current, changed: false };
      }
      if (current.status !== 'MIGRATING') {
        throw conflict(
          'INVALID_TRANSITION',
          `Tenant "${tenantId}" is ${current.status}: ${change.action} needs it to be MIGRATING.`,
        );
      }
      const set = {
        status: 'ACTIVE',
        // The reason goes to the audit record; an ACTIVE tenant carries no status reason.
        statusReason: undefined,
        tier: placement.tier,
        isolation: placement.isolation,
        dataTable: placement.dataTable,
        keyArn: placement.keyArn,
      };
      const changes: NonNullable<AuditRecord['changes']> = {};
      for (const field of ['tier', 'isolation', 'dataTable', 'keyArn'] as const) {
        if (current[field] !== placement[field])
          changes[field] = { from: current[field], to: placement[field] };
      }
      const updated = await this.write(current, set, change, {
        action: change.action,
        fromStatus: 'MIGRATING',
        toStatus: 'ACTIVE',
        changes,
      });
      if (updated) return { tenant: updated, changed: true };
      if (attempt >= MAX_CONFLICT_RETRIES) throw concurrentChange(tenantId);
    }
  }

  /** Changes descriptive fields (name, plan price); unchanged values are not written. */
  async update(
    tenantId: string,
    fields: UpdatableFields,
    change: ChangeRequest & { readonly action?: string },
  ): Promise<TransitionResult> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.require(tenantId);
      if (current.status === 'DELETED') {
        throw conflict('TENANT_DELETED', `Tenant "${tenantId}" is DELETED; it cannot be changed.`);
      }
      const changes: NonNullable<AuditRecord['changes']> = {};
      const set: Record<string, string | number | undefined> = {};
      for (const field of UPDATABLE_FIELDS) {
        const value = fields[field];
        if (value === undefined || value === current[field]) continue;
        if (value === null) {
          if (current[field] === undefined) continue;
          changes[field] = { from: current[field] };
          set[field] = undefined;
          continue;
        }
        changes[field] = { from: current[field], to: value };
        set[field] = value;
      }
      if (Object.keys(set).length === 0) return { tenant: current, changed: false };
      const updated = await this.write(current, set, change, { action: change.action ?? 'update', changes });
      if (updated) return { tenant: updated, changed: true };
      if (attempt >= MAX_CONFLICT_RETRIES) throw concurrentChange(tenantId);
    }
  }

  /**
   * Audits an action on the tenant that changes no field of its record (a key disabled, a
   * data export): the record's version is named, not bumped.
   */
  async recordEvent(
    tenantId: string,
    event: ChangeRequest & { readonly action: string; readonly changes?: AuditRecord['changes'] },
  ): Promise<AuditRecord> {
    const tenant = await this.require(tenantId);
    const record: AuditRecord = {
      tenantId,
      at: this.now().toISOString(),
      action: event.action,
      actor: event.actor,
      ...(event.reason ? { reason: event.reason } : {}),
      version: tenant.version,
      ...(event.changes ? { changes: event.changes } : {}),
    };
    await this.writeAudit(record);
    return record;
  }

  /**
   * Records workflow progress on the tenant item. Not a status change, so not versioned:
   * the workflow engine is its only writer. A tenant that does not exist yet is left alone.
   */
  async recordWorkflow(tenantId: string, progress: WorkflowProgress): Promise<void> {
    try {
      await this.db.send(
        new (sdk.documents().UpdateCommand)({
          TableName: this.table,
          Key: keys.tenant(tenantId),
          UpdateExpression: 'SET #workflow = :progress',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeNames: { '#workflow': 'workflow' },
          ExpressionAttributeValues: { ':progress': progress },
        }),
      );
    } catch (err) {
      if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
    }
  }

  async workflow(tenantId: string): Promise<WorkflowProgress | undefined> {
    const { Item } = await this.db.send(
      new (sdk.documents().GetCommand)({
        TableName: this.table,
        Key: keys.tenant(tenantId),
        ConsistentRead: true,
        ProjectionExpression: '#workflow',
        ExpressionAttributeNames: { '#workflow': 'workflow' },
      }),
    );
    return Item?.workflow as WorkflowProgress | undefined;
  }

  /**
   * One conditional write on `version`, then the audit item. Returns undefined when another
   * writer got there first (the caller re-reads and decides again).
   */
  private async write(
    current: Tenant,
    set: Record<string, string | number | undefined>,
    change: ChangeRequest,
    audit: Pick<AuditRecord, 'action' | 'fromStatus' | 'toStatus' | 'changes'>,
  ): Promise<Tenant | undefined> {
    const at = this.now().toISOString();
    const version = current.version + 1;
    const record: AuditRecord = {
      tenantId: current.tenantId,
      at,
      actor: change.actor,
      ...(change.reason ? { reason: change.reason } : {}),
      version,
      ...audit,
    };
    const assignments = Object.entries({ ...set, updatedAt: at, version, lastChange: record }).filter(
      ([, v]) => v !== undefined,
    );
    const names: Record<string, string> = { '#expected': 'version' };
    const values: Record<string, unknown> = { ':expected': current.version };
    const parts = assignments.map(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:v${i}`] = value;
      return `#f${i} = :v${i}`;
    });
    // A field set to undefined is removed (a transition without a reason clears the old one).
    const removals = Object.keys(set)
      .filter((field) => set[field] === undefined)
      .map((field, i) => {
        names[`#r${i}`] = field;
        return `#r${i}`;
      });
    let previous: AuditRecord | undefined;
    try {
      const { Attributes } = await this.db.send(
        new (sdk.documents().UpdateCommand)({
          TableName: this.table,
          Key: keys.tenant(current.tenantId),
          UpdateExpression: `SET ${parts.join(', ')}${removals.length > 0 ? ` REMOVE ${removals.join(', ')}` : ''}`,
          ConditionExpression: '#expected = :expected',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        }),
      );
      previous = Attributes?.lastChange as AuditRecord | undefined;
    } catch (err) {
      if (isAwsError(err, 'ConditionalCheckFailedException')) return undefined;
      throw err;
    }
    // Rewrite the previous change's audit item (idempotent: same key, same content) in case a
    // crash lost it, then this one's.
    if (previous) await this.writeAudit(previous);
    await this.writeAudit(record);
    const next = { ...current, ...(set as Partial<Tenant>), updatedAt: at, version };
    return Object.fromEntries(Object.entries(next).filter(([, v]) => v !== undefined)) as unknown as Tenant;
  }

  private async writeAudit(record: AuditRecord): Promise<void> {
    await this.db.send(
      new (sdk.documents().PutCommand)({
        TableName: this.table,
        Item: { ...keys.audit(record.tenantId, record.at, record.version), entity: 'audit', ...record },
      }),
    );
  }
}

function statusesLeadingTo(to: TenantStatus): TenantStatus[] {
  return (Object.keys(ALLOWED_TRANSITIONS) as TenantStatus[]).filter((from) =>
    ALLOWED_TRANSITIONS[from].includes(to),
  );
}

function concurrentChange(tenantId: string): SaasctlError {
  return conflict('CONCURRENT_CHANGE', `Tenant "${tenantId}" kept changing under this command; try again.`);
}

const TENANT_FIELDS = [
  'tenantId',
  'name',
  'tier',
  'isolation',
  'status',
  'region',
  'adminEmail',
  'version',
  'createdAt',
  'updatedAt',
  'planPrice',
  'dataTable',
  'keyArn',
  'accountId',
  'accountRequestId',
  'statusReason',
  'marketplaceAccountId',
  'licenseArn',
  'marketplaceCustomer',
] as const;

function toTenant(item: Record<string, unknown>): Tenant {
  return pickFields<Tenant>(item, TENANT_FIELDS);
}

const AUDIT_FIELDS = [
  'tenantId',
  'at',
  'action',
  'actor',
  'reason',
  'version',
  'fromStatus',
  'toStatus',
  'changes',
] as const;

function toAudit(item: Record<string, unknown>): AuditRecord {
  return pickFields<AuditRecord>(item, AUDIT_FIELDS);
}
