import { request } from 'node:http';

import { SaasctlError } from '../../cli/errors.js';
import { CONTROL_PATH_PREFIX } from './json-protocol.js';

/**
 * The Marketplace Metering emulator's control API: what AWS knows without being told through
 * BatchMeterUsage (which buyers subscribe), the test switch for faults, and what it accepted.
 * Served by the emulator itself (`POST /_saasctl/<Operation>`); this is its client, used by the
 * local target (registering a tenant's subscription), tests and the bench.
 */

/** A buyer AWS Marketplace knows: an account with its license (Concurrent Agreements), or a legacy customer of a product. */
export type EmulatedSubscription =
  | { readonly CustomerAWSAccountId: string; readonly LicenseArn: string }
  | { readonly CustomerIdentifier: string; readonly ProductCode: string };

/**
 * Faults to inject, each for the next N BatchMeterUsage calls (counted down as calls use them):
 * `throttle` answers ThrottlingException, `internalError` InternalServiceErrorException (HTTP
 * 500), `unprocessed` processes only every other record and returns the rest in
 * UnprocessedRecords. `requestsPerSecond` changes the throttling quota (AWS's is 10).
 */
export interface MarketplaceFaults {
  readonly throttle?: number;
  readonly internalError?: number;
  readonly unprocessed?: number;
  readonly requestsPerSecond?: number;
}

/** One usage record the emulator honoured (Status Success), as AWS would bill it. */
export interface AcceptedRecord {
  readonly meteringRecordId: string;
  readonly customerAwsAccountId?: string;
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  readonly productCode?: string;
  readonly dimension: string;
  /** ISO 8601, as sent. */
  readonly timestamp: string;
  readonly quantity: number;
  readonly acceptedAt: string;
}

export interface MarketplaceStats {
  /** BatchMeterUsage calls received, throttled and failed ones included. */
  readonly calls: number;
  readonly throttled: number;
  /** Calls answered with an error other than throttling (injected or invalid). */
  readonly failed: number;
  readonly records: {
    readonly success: number;
    readonly duplicate: number;
    readonly notSubscribed: number;
    readonly unprocessed: number;
  };
  /** Time of the first and last call that was not throttled (epoch ms), for rates. */
  readonly firstCallAt?: number;
  readonly lastCallAt?: number;
}

export interface MarketplaceControl {
  registerSubscription(subscription: EmulatedSubscription): Promise<void>;
  /** Many at once (one write of the emulator's state): for seeding benchmarks and tests. */
  registerSubscriptions(subscriptions: readonly EmulatedSubscription[]): Promise<void>;
  deregisterSubscription(subscription: EmulatedSubscription): Promise<void>;
  subscriptions(): Promise<EmulatedSubscription[]>;
  setFaults(faults: MarketplaceFaults): Promise<void>;
  accepted(): Promise<AcceptedRecord[]>;
  stats(): Promise<MarketplaceStats>;
  /** Zeroes the call statistics (accepted records and subscriptions stay). */
  resetStats(): Promise<void>;
}

export function marketplaceControl(endpoint: string): MarketplaceControl {
  const call = <T>(operation: string, body: object = {}): Promise<T> =>
    postJson<T>(`${endpoint}${CONTROL_PATH_PREFIX}${operation}`, body);
  return {
    registerSubscription: async (subscription) => {
      await call('RegisterSubscription', subscription);
    },
    registerSubscriptions: async (subscriptions) => {
      await call('RegisterSubscriptions', { Subscriptions: subscriptions });
    },
    deregisterSubscription: async (subscription) => {
      await call('DeregisterSubscription', subscription);
    },
    subscriptions: async () =>
      (await call<{ Subscriptions: EmulatedSubscription[] }>('ListSubscriptions')).Subscriptions,
    setFaults: async (faults) => {
      await call('SetFaults', faults);
    },
    accepted: async () => (await call<{ Records: AcceptedRecord[] }>('ListAccepted')).Records,
    stats: () => call<MarketplaceStats>('GetStats'),
    resetStats: async () => {
      await call('ResetStats');
    },
  };
}

/** node:http rather than fetch, as in stack.ts: fetch costs ~50 ms to load. */
function postJson<T>(url: string, body: object): Promise<T> {
  const payload = JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', reject);
        res.on('end', () => {
          const parsed = (text ? JSON.parse(text) : {}) as T & { __type?: string; message?: string };
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            return reject(
              new SaasctlError(
                'MARKETPLACE_EMULATOR_ERROR',
                `The local Marketplace Metering emulator answered ${status}: ${parsed.__type ?? ''} ${parsed.message ?? text}`.trim(),
              ),
            );
          }
          resolve(parsed);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
