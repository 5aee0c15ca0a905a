import { createRequire } from 'node:module';

/**
 * The AWS SDK packages, each loaded on first use. Static imports of the SDK would load it for
 * every command that merely imports a module (and `local status` needs none of it); the
 * SDK's CommonJS builds also load measurably faster through require than through ESM import.
 * Lib code takes command classes from here: `const { GetCommand } = sdk.documents();`.
 */
const requireCjs = createRequire(import.meta.url);

// The lockfile pins SDK releases that support Node 20; their notice about later releases is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const sdk = {
  documents: () => requireCjs('@aws-sdk/lib-dynamodb') as typeof import('@aws-sdk/lib-dynamodb'),
  dynamodb: () => requireCjs('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb'),
  s3: () => requireCjs('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3'),
  cognito: () =>
    requireCjs(
      '@aws-sdk/client-cognito-identity-provider',
    ) as typeof import('@aws-sdk/client-cognito-identity-provider'),
  kinesis: () => requireCjs('@aws-sdk/client-kinesis') as typeof import('@aws-sdk/client-kinesis'),
  kms: () => requireCjs('@aws-sdk/client-kms') as typeof import('@aws-sdk/client-kms'),
  sts: () => requireCjs('@aws-sdk/client-sts') as typeof import('@aws-sdk/client-sts'),
  ssm: () => requireCjs('@aws-sdk/client-ssm') as typeof import('@aws-sdk/client-ssm'),
  sfn: () => requireCjs('@aws-sdk/client-sfn') as typeof import('@aws-sdk/client-sfn'),
  organizations: () =>
    requireCjs('@aws-sdk/client-organizations') as typeof import('@aws-sdk/client-organizations'),
  marketplace: () =>
    requireCjs(
      '@aws-sdk/client-marketplace-metering',
    ) as typeof import('@aws-sdk/client-marketplace-metering'),
  athena: () => requireCjs('@aws-sdk/client-athena') as typeof import('@aws-sdk/client-athena'),
  http: () => requireCjs('@smithy/node-http-handler') as typeof import('@smithy/node-http-handler'),
};
