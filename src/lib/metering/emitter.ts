import type { KinesisClient, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';

import { SaasctlError } from '../cli/errors.js';
import { sdk } from '../platform/sdk.js';
import type { UsageEvent } from './types.js';

/** Kinesis PutRecords limits: 500 records and 5 MiB a call, 1 MiB a record (data plus key). */
export const MAX_RECORDS_PER_CALL = 500;
export const MAX_BYTES_PER_CALL = 5 * 1024 * 1024;
export const MAX_BYTES_PER_RECORD = 1024 * 1024;

export interface EmitterOptions {
  /** Attempts per record, including the first (failed records are retried). */
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface EmitResult {
  readonly sent: number;
  readonly calls: number;
  /** Records that needed more than one attempt. */
  readonly retried: number;
}

/**
 * Sends usage events to the usage stream for application code. Events go in PutRecords calls
 * within Kinesis' limits, partitioned by tenant id (a tenant's events stay in order on one
 * shard). Records the stream refuses (throttled, internal failure) are retried with capped
 * exponential backoff; none is dropped silently: when attempts run out, the error lists
 * every event that was not sent, so the caller can keep or re-emit them.
 */
export class UsageEmitter {
  constructor(
    private readonly kinesis: KinesisClient,
    private readonly stream: string,
    private readonly options: EmitterOptions = {},
  ) {}

  async emit(events: readonly UsageEvent[]): Promise<EmitResult> {
    let calls = 0;
    let retried = 0;
    const unsent: { event: UsageEvent; error: string }[] = [];
    for (const batch of batches(events)) {
      const outcome = await this.sendWithRetries(batch);
      calls += outcome.calls;
      retried += outcome.retried;
      unsent.push(...outcome.unsent);
    }
    if (unsent.length > 0) {
      throw new SaasctlError(
        'EVENTS_NOT_SENT',
        `${unsent.length} of ${events.length} usage events were not accepted by ${this.stream} after ${this.maxAttempts} attempts: ${unsent[0].error}.`,
        {
          exitCode: 6,
          details: { unsent: unsent.map((u) => ({ eventId: u.event.eventId, error: u.error })) },
          actions: [
            'Emit them again (event ids make re-sending safe: the aggregator and reconcile dedup by id).',
          ],
        },
      );
    }
    return { sent: events.length, calls, retried };
  }

  private get maxAttempts(): number {
    return this.options.maxAttempts ?? 5;
  }

  private async sendWithRetries(
    events: readonly UsageEvent[],
  ): Promise<{ calls: number; retried: number; unsent: { event: UsageEvent; error: string }[] }> {
    const { PutRecordsCommand } = sdk.kinesis();
    const sleep =
      this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    let pending = [...events];
    let calls = 0;
    let retried = 0;
    let lastErrors = new Map<UsageEvent, string>();
    for (let attempt = 1; pending.length > 0 && attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) {
        retried += pending.length;
        const delay = Math.min(
          (this.options.baseDelayMs ?? 100) * 2 ** (attempt - 2),
          this.options.maxDelayMs ?? 5000,
        );
        await sleep(delay * (0.5 + Math.random() / 2));
      }
      calls++;
      const { Records } = await this.kinesis.send(
        new PutRecordsCommand({ StreamName: this.stream, Records: pending.map(toRecord) }),
      );
      // Results come back in request order; a record with an ErrorCode was not written.
      const failed: UsageEvent[] = [];
      lastErrors = new Map();
      pending.forEach((event, i) => {
        const result = Records?.[i];
        if (!result || result.ErrorCode) {
          failed.push(event);
          lastErrors.set(
            event,
            `${result?.ErrorCode ?? 'NoResult'}${result?.ErrorMessage ? `: ${result.ErrorMessage}` : ''}`,
          );
        }
      });
      pending = failed;
    }
    return {
      calls,
      retried,
      unsent: pending.map((event) => ({ event, error: lastErrors.get(event) ?? 'unknown' })),
    };
  }
}

function toRecord(event: UsageEvent): PutRecordsRequestEntry {
  return { PartitionKey: event.tenantId, Data: Buffer.from(JSON.stringify(event)) };
}

/** Splits events into PutRecords calls within the record-count and size limits. */
export function batches(events: readonly UsageEvent[]): UsageEvent[][] {
  const result: UsageEvent[][] = [];
  let current: UsageEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = Buffer.byteLength(JSON.stringify(event)) + Buffer.byteLength(event.tenantId);
    if (size > MAX_BYTES_PER_RECORD) {
      throw new SaasctlError(
        'EVENT_TOO_LARGE',
        `Usage event ${event.eventId} is ${size} bytes; Kinesis takes 1 MiB.`,
      );
    }
    if (current.length === MAX_RECORDS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) result.push(current);
  return result;
}
