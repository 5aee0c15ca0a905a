import { SaasctlError } from '../cli/errors.js';

/** BatchWriteItem takes at most 25 put or delete requests per call (and 16 MB, which 25 items never reach). */
export const BATCH_WRITE_LIMIT = 25;
/** BatchGetItem takes at most 100 keys per call. */
export const BATCH_GET_LIMIT = 100;

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryOptions {
  readonly sleep?: Sleep;
  /** Calls per batch before giving up (default 10: about 10 s of backoff in all). */
  readonly maxRounds?: number;
}

/** The backoff before round `round` (1-based): 100 ms doubling, capped at 2 s. */
export function backoffMs(round: number): number {
  return Math.min(50 * 2 ** round, 2000);
}

/**
 * Sends one batch and then whatever the service left unprocessed (UnprocessedItems,
 * UnprocessedKeys), with exponential backoff between rounds, as DynamoDB asks. `send` returns
 * the requests still to do.
 */
export async function untilProcessed<R>(
  requests: readonly R[],
  send: (batch: readonly R[]) => Promise<readonly R[]>,
  options: RetryOptions = {},
): Promise<void> {
  const sleep = options.sleep ?? realSleep;
  const maxRounds = options.maxRounds ?? 10;
  let pending = requests;
  for (let round = 0; pending.length > 0; round++) {
    if (round >= maxRounds) {
      throw new SaasctlError(
        'DYNAMODB_THROTTLED',
        `DynamoDB left ${pending.length} requests of a batch unprocessed ${maxRounds} times in a row.`,
        { actions: ['Re-run the same command: it resumes from its last checkpoint.'] },
      );
    }
    if (round > 0) await sleep(backoffMs(round));
    pending = await send(pending);
  }
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** At most `limit` tasks at once, shared by every caller (the copy's segments share one). */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so none can jump the queue.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  /** Runs every task through the limiter and waits for all; the first failure rejects. */
  all<T>(tasks: readonly (() => Promise<T>)[]): Promise<T[]> {
    return Promise.all(tasks.map((task) => this.run(task)));
  }
}
