import { randomUUID } from 'node:crypto';

import { conflict } from '../cli/errors.js';
import type { PlatformSource } from '../tenants/lifecycle.js';
import { catalogs } from '../tenants/context.js';
import { UsageEmitter } from './emitter.js';
import { assertEvent } from './events.js';
import { MetricRegistry } from './metrics.js';
import type { UsageEvent } from './types.js';

export interface EmitRequest {
  readonly tenantId: string;
  readonly metric: string;
  readonly quantity: number;
  /** When the usage happened (ISO 8601 UTC); now by default. */
  readonly ts?: string;
  readonly eventId?: string;
}

export interface EmitOutcome {
  readonly event: UsageEvent;
  readonly stream: string;
}

/**
 * `metering emit`: one usage event, validated like the aggregator validates it, for a tenant
 * the catalog knows, sent to the usage stream with the same emitter application code uses.
 */
export async function emitUsage(
  open: PlatformSource,
  request: EmitRequest,
  now = new Date(),
): Promise<EmitOutcome> {
  const event = assertEvent(
    {
      eventId: request.eventId ?? randomUUID(),
      tenantId: request.tenantId,
      metric: request.metric,
      quantity: request.quantity,
      ts: request.ts ?? now.toISOString(),
    },
    new MetricRegistry(),
    now,
  );
  const platform = await open();
  const tenant = await catalogs(platform).catalog.require(event.tenantId);
  if (tenant.status === 'DELETED') {
    throw conflict('TENANT_DELETED', `Tenant "${tenant.tenantId}" is DELETED; it has no usage to record.`);
  }
  const stream = platform.config.usageStream;
  await new UsageEmitter(platform.clients.kinesis(), stream).emit([event]);
  return { event, stream };
}
