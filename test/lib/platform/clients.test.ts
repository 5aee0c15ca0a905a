import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expect } from 'chai';

import {
  AwsClientFactory,
  DEFAULT_MAX_ATTEMPTS,
  SERVICES,
  type ServiceName,
} from '../../../src/lib/platform/clients.js';

/** What every built client's resolved config exposes, whatever the service. */
interface ResolvedView {
  readonly config: {
    region(): Promise<string>;
    maxAttempts(): Promise<number>;
    retryMode?: unknown;
    retryStrategy(): Promise<object>;
    profile?: string;
    customUserAgent?: unknown;
    credentials(): Promise<{ accessKeyId: string; secretAccessKey: string }>;
    endpoint?: () => Promise<{ hostname: string; port?: number; protocol: string }>;
    isCustomEndpoint?: boolean;
  };
  destroy(): void;
}

function build(factory: AwsClientFactory, service: ServiceName): ResolvedView {
  switch (service) {
    case 'dynamodb':
      return factory.dynamodb();
    case 's3':
      return factory.s3();
    case 'cognito':
      return factory.cognito();
    case 'kinesis':
      return factory.kinesis();
    case 'kms':
      return factory.kms();
    case 'sts':
      return factory.sts();
    case 'ssm':
      return factory.ssm();
    case 'sfn':
      return factory.sfn();
    case 'organizations':
      return factory.organizations();
    case 'marketplace':
      return factory.marketplace();
    case 'athena':
      return factory.athena();
  }
}

const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };

describe('AwsClientFactory', () => {
  const factories: AwsClientFactory[] = [];
  function factory(options: ConstructorParameters<typeof AwsClientFactory>[0]): AwsClientFactory {
    const made = new AwsClientFactory(options);
    factories.push(made);
    return made;
  }
  afterEach(() => {
    for (const made of factories.splice(0)) made.destroy();
  });

  describe('baseConfig', () => {
    it('holds the region, a capped standard retry and nothing else by default', () => {
      expect(DEFAULT_MAX_ATTEMPTS).to.equal(4);
      expect(factory({ region: 'eu-west-1' }).baseConfig('dynamodb')).to.deep.equal({
        region: 'eu-west-1',
        maxAttempts: 4,
        retryMode: 'standard',
      });
    });

    it('carries profile, credentials, max attempts and user agent to every service', () => {
      const clients = factory({
        region: 'eu-west-1',
        profile: 'ops',
        credentials,
        maxAttempts: 2,
        userAgent: 'saasctl/1.2.3',
      });
      for (const service of SERVICES) {
        expect(clients.baseConfig(service), service).to.deep.equal({
          region: 'eu-west-1',
          profile: 'ops',
          credentials,
          maxAttempts: 2,
          retryMode: 'standard',
          customUserAgent: 'saasctl/1.2.3',
        });
      }
    });

    it('gives each service only its own endpoint', () => {
      const clients = factory({
        region: 'us-east-1',
        endpoints: { dynamodb: 'http://127.0.0.1:8000', s3: 'http://127.0.0.1:4569' },
      });
      expect(clients.baseConfig('dynamodb').endpoint).to.equal('http://127.0.0.1:8000');
      expect(clients.baseConfig('s3').endpoint).to.equal('http://127.0.0.1:4569');
      for (const service of SERVICES.filter((s) => s !== 'dynamodb' && s !== 's3')) {
        expect(clients.baseConfig(service), service).not.to.have.property('endpoint');
      }
      expect(clients.isLocal('dynamodb')).to.equal(true);
      expect(clients.isLocal('cognito')).to.equal(false);
    });
  });

  describe('built clients', () => {
    for (const service of SERVICES) {
      it(`builds the ${service} client with the shared region, retries, profile and user agent`, async () => {
        const client = build(
          factory({ region: 'eu-central-1', profile: 'ops', maxAttempts: 3, userAgent: 'saasctl/1.2.3' }),
          service,
        );
        expect(await client.config.region()).to.equal('eu-central-1');
        expect(await client.config.maxAttempts()).to.equal(3);
        expect(client.config.retryMode).to.equal('standard');
        const strategy = await client.config.retryStrategy();
        expect(strategy).to.have.property('mode', 'standard');
        expect(client.config.profile).to.equal('ops');
        expect(client.config.customUserAgent).to.deep.equal([['saasctl/1.2.3']]);
        expect(client.config.isCustomEndpoint).to.equal(false);
      });
    }

    it('defaults a built client to 4 attempts', async () => {
      expect(await factory({ region: 'us-east-1' }).sts().config.maxAttempts()).to.equal(4);
    });

    it('points only the service with a local endpoint at it, with the static credentials', async () => {
      const clients = factory({
        region: 'us-east-1',
        endpoints: { dynamodb: 'http://127.0.0.1:8000' },
        credentials,
      });
      const dynamodb = clients.dynamodb();
      expect(dynamodb.config.isCustomEndpoint).to.equal(true);
      expect(await dynamodb.config.endpoint?.()).to.include({
        hostname: '127.0.0.1',
        port: 8000,
        protocol: 'http:',
      });
      expect(await dynamodb.config.credentials()).to.include(credentials);

      const cognito = clients.cognito();
      expect(cognito.config.isCustomEndpoint).to.equal(false);
      expect(cognito.config.endpoint).to.equal(undefined);
    });

    it('returns the same client instance on every call', () => {
      const clients = factory({ region: 'us-east-1' });
      for (const service of SERVICES)
        expect(build(clients, service), service).to.equal(build(clients, service));
      expect(clients.documents()).to.equal(clients.documents());
    });

    it('builds the document client on the cached DynamoDB client, dropping undefined attributes', () => {
      const clients = factory({ region: 'us-east-1', maxAttempts: 2 });
      const documents = clients.documents();
      expect(clients.dynamodb()).to.be.instanceOf(DynamoDBClient);
      expect(documents.config).to.equal(clients.dynamodb().config);
      expect(documents.config.translateConfig).to.deep.equal({
        marshallOptions: { removeUndefinedValues: true },
      });
    });

    it('gives a local s3 path-style addressing and checksums only when required', async () => {
      const s3 = factory({ region: 'us-east-1', endpoints: { s3: 'http://127.0.0.1:4569' } }).s3();
      expect(s3).to.be.instanceOf(S3Client);
      expect(s3.config.forcePathStyle).to.equal(true);
      expect(await s3.config.requestChecksumCalculation()).to.equal('WHEN_REQUIRED');
      expect(await s3.config.endpoint?.()).to.include({ hostname: '127.0.0.1', port: 4569 });
    });

    it('leaves s3 on virtual-host addressing and default checksums without a local endpoint', async () => {
      const s3 = factory({ region: 'us-east-1', endpoints: { dynamodb: 'http://127.0.0.1:8000' } }).s3();
      expect(s3.config.forcePathStyle).to.equal(false);
      expect(await s3.config.requestChecksumCalculation()).to.equal('WHEN_SUPPORTED');
    });

    it('talks HTTP/1.1 to a local kinesis and keeps the SDK default handler otherwise', () => {
      const local = factory({
        region: 'us-east-1',
        endpoints: { kinesis: 'http://127.0.0.1:4567' },
      }).kinesis();
      expect(local.config.requestHandler).to.be.instanceOf(NodeHttpHandler);
      const remote = factory({ region: 'us-east-1' }).kinesis();
      expect(remote.config.requestHandler).not.to.be.instanceOf(NodeHttpHandler);
    });
  });

  describe('destroy', () => {
    it('destroys every cached client and builds new ones afterwards', () => {
      const clients = factory({ region: 'us-east-1' });
      const sts = clients.sts();
      const kms = clients.kms();
      const destroyed: string[] = [];
      for (const [name, client] of [
        ['sts', sts],
        ['kms', kms],
      ] as const) {
        const original = client.destroy.bind(client);
        client.destroy = () => {
          destroyed.push(name);
          original();
        };
      }

      clients.destroy();

      expect(destroyed.sort()).to.deep.equal(['kms', 'sts']);
      expect(clients.sts()).not.to.equal(sts);
      expect(clients.kms()).not.to.equal(kms);
    });
  });
});
