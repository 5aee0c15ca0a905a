import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

import type { AwsClientFactory } from '../platform/clients.js';
import type { SessionCredentials } from './documents.js';

/**
 * DynamoDB clients that sign with tenants' vended credentials, one per (session, region), kept
 * while the session is cached by the vendor and dropped (sockets released) least recently used
 * first. Building a client per request would cost a TLS handshake per request on AWS.
 */
export class SessionClients {
  private readonly entries = new Map<string, { factory: AwsClientFactory; client: DynamoDBClient }>();

  constructor(
    private readonly base: AwsClientFactory,
    private readonly maxEntries = 256,
  ) {}

  dynamodb(credentials: SessionCredentials, region: string): DynamoDBClient {
    const key = `${credentials.accessKeyId}/${region}`;
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      return entry.client;
    }
    const factory = this.base.forRegion(region).withCredentials({
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
      expiration: new Date(credentials.expiration),
    });
    const client = factory.dynamodb();
    this.entries.set(key, { factory, client });
    while (this.entries.size > this.maxEntries) {
      const [oldest, value] = this.entries.entries().next().value as [string, { factory: AwsClientFactory }];
      this.entries.delete(oldest);
      value.factory.destroy();
    }
    return client;
  }

  destroy(): void {
    for (const { factory } of this.entries.values()) factory.destroy();
    this.entries.clear();
  }
}
