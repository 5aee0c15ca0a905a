import type { AthenaClient } from '@aws-sdk/client-athena';
import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import type { OrganizationsClient } from '@aws-sdk/client-organizations';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { STSClient } from '@aws-sdk/client-sts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { sdk } from './sdk.js';

/**
 * The one place AWS clients are built. Each service's SDK package is loaded on first use
 * (see sdk.ts), so a
 * command pays only for the clients it touches.
 */
export const SERVICES = [
  'dynamodb',
  's3',
  'cognito',
  'kinesis',
  'kms',
  'sts',
  'ssm',
  'sfn',
  'organizations',
  'marketplace',
  'athena',
] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface StaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Credentials the SDK asks for when it needs them (and again when they expire). */
export type CredentialsProvider = () => Promise<StaticCredentials>;

export interface ClientFactoryOptions {
  readonly region: string;
  /** A named profile from the shared AWS config (aws target). */
  readonly profile?: string;
  /** Per-service endpoints: the local stack's loopback servers. */
  readonly endpoints?: Partial<Record<ServiceName, string>>;
  readonly credentials?: StaticCredentials | CredentialsProvider;
  /** Total attempts per call, including the first (standard retry mode, capped backoff). */
  readonly maxAttempts?: number;
  readonly userAgent?: string;
}

export const DEFAULT_MAX_ATTEMPTS = 4;

interface BaseClientConfig {
  region: string;
  profile?: string;
  endpoint?: string;
  credentials?: StaticCredentials | CredentialsProvider;
  maxAttempts: number;
  retryMode: 'standard';
  customUserAgent?: string;
}

export class AwsClientFactory {
  private readonly cache = new Map<string, { destroy(): void }>();
  private readonly regional = new Map<string, AwsClientFactory>();
  private readonly accounts = new Map<string, AwsClientFactory>();

  constructor(readonly options: ClientFactoryOptions) {}

  /** The configuration every client shares: exposed for the unit tests of this factory. */
  baseConfig(service: ServiceName): BaseClientConfig {
    const endpoint = this.options.endpoints?.[service];
    return {
      region: this.options.region,
      ...(this.options.profile ? { profile: this.options.profile } : {}),
      ...(endpoint ? { endpoint } : {}),
      ...(this.options.credentials ? { credentials: this.options.credentials } : {}),
      maxAttempts: this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      retryMode: 'standard',
      ...(this.options.userAgent ? { customUserAgent: this.options.userAgent } : {}),
    };
  }

  isLocal(service: ServiceName): boolean {
    return Boolean(this.options.endpoints?.[service]);
  }

  dynamodb(): DynamoDBClient {
    return this.cached('dynamodb', () => {
      const pkg = sdk.dynamodb();
      return new pkg.DynamoDBClient(this.baseConfig('dynamodb'));
    });
  }

  /** DynamoDB with native JavaScript values; undefined attributes are dropped. */
  documents(): DynamoDBDocumentClient {
    return this.cached('documents', () => {
      const lib = sdk.documents();
      return lib.DynamoDBDocumentClient.from(this.dynamodb(), {
        marshallOptions: { removeUndefinedValues: true },
      });
    });
  }

  s3(): S3Client {
    return this.cached('s3', () => {
      const pkg = sdk.s3();
      const local = this.isLocal('s3');
      return new pkg.S3Client({
        ...this.baseConfig('s3'),
        // s3rver corrupts streamed bodies under the default checksum mode and wants path style.
        ...(local ? { forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' as const } : {}),
      });
    });
  }

  cognito(): CognitoIdentityProviderClient {
    return this.cached('cognito', () => {
      const pkg = sdk.cognito();
      return new pkg.CognitoIdentityProviderClient(this.baseConfig('cognito'));
    });
  }

  kinesis(): KinesisClient {
    return this.cached('kinesis', () => {
      const pkg = sdk.kinesis();
      if (!this.isLocal('kinesis')) return new pkg.KinesisClient(this.baseConfig('kinesis'));
      // kinesalite speaks HTTP/1.1 only; the SDK's default HTTP/2 handler fails with "Protocol error".
      const http = sdk.http();
      return new pkg.KinesisClient({
        ...this.baseConfig('kinesis'),
        requestHandler: new http.NodeHttpHandler(),
      });
    });
  }

  kms(): KMSClient {
    return this.cached('kms', () => {
      const pkg = sdk.kms();
      return new pkg.KMSClient(this.baseConfig('kms'));
    });
  }

  sts(): STSClient {
    return this.cached('sts', () => {
      const pkg = sdk.sts();
      return new pkg.STSClient(this.baseConfig('sts'));
    });
  }

  ssm(): SSMClient {
    return this.cached('ssm', () => {
      const pkg = sdk.ssm();
      return new pkg.SSMClient(this.baseConfig('ssm'));
    });
  }

  sfn(): SFNClient {
    return this.cached('sfn', () => {
      const pkg = sdk.sfn();
      return new pkg.SFNClient(this.baseConfig('sfn'));
    });
  }

  organizations(): OrganizationsClient {
    return this.cached('organizations', () => {
      const pkg = sdk.organizations();
      return new pkg.OrganizationsClient(this.baseConfig('organizations'));
    });
  }

  marketplace(): MarketplaceMeteringClient {
    return this.cached('marketplace', () => {
      const pkg = sdk.marketplace();
      return new pkg.MarketplaceMeteringClient(this.baseConfig('marketplace'));
    });
  }

  /** Athena, for the SQL engine of `metering reconcile` (aws target only: the local stack has none). */
  athena(): AthenaClient {
    return this.cached('athena', () => {
      const pkg = sdk.athena();
      return new pkg.AthenaClient(this.baseConfig('athena'));
    });
  }

  /** The same configuration in another region (a tenant's silo resources live in its region). */
  forRegion(region: string): AwsClientFactory {
    if (region === this.options.region) return this;
    let factory = this.regional.get(region);
    if (!factory) {
      factory = new AwsClientFactory({ ...this.options, region });
      this.regional.set(region, factory);
    }
    return factory;
  }

  /**
   * The same configuration acting in another account through a role there (a tenant's own
   * account, through OrganizationAccountAccessRole). Credentials come from STS AssumeRole with
   * this factory's identity, and are renewed five minutes before they expire.
   */
  inAccount(accountId: string, roleName = 'OrganizationAccountAccessRole'): AwsClientFactory {
    const key = `${accountId}/${roleName}`;
    let factory = this.accounts.get(key);
    if (!factory) {
      const RoleArn = `arn:aws:iam::${accountId}:role/${roleName}`;
      let current: StaticCredentials | undefined;
      const credentials: CredentialsProvider = async () => {
        if (current?.expiration && current.expiration.getTime() - Date.now() > 5 * 60_000) return current;
        const { Credentials } = await this.sts().send(
          new (sdk.sts().AssumeRoleCommand)({ RoleArn, RoleSessionName: 'saasctl', DurationSeconds: 3600 }),
        );
        if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey) {
          throw new Error(`STS AssumeRole into ${RoleArn} returned no credentials`);
        }
        current = {
          accessKeyId: Credentials.AccessKeyId,
          secretAccessKey: Credentials.SecretAccessKey,
          sessionToken: Credentials.SessionToken,
          expiration: Credentials.Expiration,
        };
        return current;
      };
      factory = new AwsClientFactory({ ...this.options, profile: undefined, credentials });
      this.accounts.set(key, factory);
    }
    return factory;
  }

  /**
   * The same configuration signing with other credentials (a tenant's vended session). Not
   * cached here: the caller owns the factory, keeps it while the credentials last, and destroys it.
   */
  withCredentials(credentials: StaticCredentials): AwsClientFactory {
    return new AwsClientFactory({ ...this.options, profile: undefined, credentials });
  }

  /** Releases every client's sockets. */
  destroy(): void {
    for (const client of this.cache.values()) client.destroy();
    this.cache.clear();
    for (const factory of [...this.regional.values(), ...this.accounts.values()]) factory.destroy();
    this.regional.clear();
    this.accounts.clear();
  }

  private cached<T extends { destroy(): void }>(key: string, build: () => T): T {
    let client = this.cache.get(key) as T | undefined;
    if (!client) {
      client = build();
      this.cache.set(key, client);
    }
    return client;
  }
}
