import { usageError } from '../cli/errors.js';
import type { Reporter } from '../cli/reporter.js';
import type { Platform } from '../platform/platform.js';
import { DEFAULT_KEY_DELETION_DAYS, offboardingWorkflow } from '../workflow/offboarding.js';
import { runWorkflow, type RunOptions, type StepReport } from '../workflow/runner.js';
import { catalogs, tenantClients } from './context.js';
import type { PlatformSource } from './lifecycle.js';
import { assertReason, assertTenantId, type Tenant } from './model.js';

export interface OffboardRequest {
  readonly tenantId: string;
  readonly reason: string;
  readonly keyDeletionDays?: number;
}

export interface OffboardResult {
  readonly tenant: Tenant;
  /** False when the tenant was already DELETED: nothing was done. */
  readonly changed: boolean;
  readonly steps: readonly StepReport[];
}

export function validateOffboardRequest(request: OffboardRequest): OffboardRequest {
  const days = request.keyDeletionDays ?? DEFAULT_KEY_DELETION_DAYS;
  if (!Number.isInteger(days) || days < 7 || days > 30) {
    throw usageError(
      'INVALID_KEY_DELETION_DAYS',
      `Invalid key deletion window ${days}: KMS waits 7 to 30 days before deleting a key.`,
    );
  }
  return {
    tenantId: assertTenantId(request.tenantId),
    reason: assertReason(request.reason),
    keyDeletionDays: days,
  };
}

/**
 * Offboards a tenant through the offboarding workflow. Idempotent and resumable like
 * onboarding: a DELETED tenant is already done, and a failed step is resumed by a re-run.
 */
export async function offboardTenant(
  open: PlatformSource,
  input: OffboardRequest,
  reporter: Reporter,
  options: RunOptions = {},
): Promise<OffboardResult> {
  const request = validateOffboardRequest(input);
  const platform: Platform = await open();
  const { catalog } = catalogs(platform);
  const current = await catalog.require(request.tenantId);
  if (current.status === 'DELETED') return { tenant: current, changed: false, steps: [] };
  const { config, clients } = platform;
  const steps = await runWorkflow(
    offboardingWorkflow,
    {
      tenantId: current.tenantId,
      tier: current.tier,
      isolation: current.isolation,
      name: current.name,
      adminEmail: current.adminEmail,
      region: current.region,
      stage: config.stage,
      reason: request.reason,
      keyDeletionDays: request.keyDeletionDays,
    },
    {
      catalog,
      documents: clients.documents(),
      pooledTable: config.tables.pooled,
      cognito: () => clients.cognito(),
      userPoolId: config.userPool.id,
      actor: await platform.actor(),
      kms: (region) => tenantClients(platform, region, current.accountId).kms(),
      dynamodb: (region) => tenantClients(platform, region, current.accountId).dynamodb(),
    },
    { record: (tenantId, progress) => catalog.recordWorkflow(tenantId, progress) },
    reporter,
    options,
  );
  return { tenant: await catalog.require(request.tenantId), changed: true, steps };
}
