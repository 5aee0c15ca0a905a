import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Duration, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

import { acknowledge } from './nag.js';

const INFRA_DIR = fileURLToPath(new URL('..', import.meta.url));
export const REPO_ROOT = path.resolve(INFRA_DIR, '..');
export const FUNCTIONS_DIR = path.join(INFRA_DIR, 'functions');

/** The runtime every function uses: the newest Node.js the installed CDK knows (cdk-nag L1). */
export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * Context `saasctl:lambdaCode=prebuilt` skips esbuild and points every function at the
 * unbundled `infra/functions` folder: for template tests only, where the code is never run.
 * `npm run synth` and deploys always bundle.
 */
export const LAMBDA_CODE_CONTEXT = 'saasctl:lambdaCode';

export interface SaasFunctionProps {
  /** The entry point: `infra/functions/<entry>.ts`, exporting `handler`. */
  readonly entry: string;
  readonly description: string;
  /** Default 30 seconds. */
  readonly timeout?: Duration;
  /** Default 512 MB. */
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
  /** Log group retention. Default one month. */
  readonly logRetention?: logs.RetentionDays;
  /** The log group's removal policy (the stage's). */
  readonly removalPolicy: RemovalPolicy;
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * The one Lambda function construct: Node.js (newest), arm64, X-Ray tracing, its own log group
 * with a retention, source maps, ESM bundled by esbuild (locally, never Docker), the AWS SDK
 * taken from the runtime (src/lib/platform/sdk.ts loads it with require). Its role has no
 * managed policy: logging is granted inline, everything else by the stack, per resource.
 */
export class SaasFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: SaasFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role: ${props.description}`.slice(0, 1000),
    });
    const prebuilt = Stack.of(scope).node.tryGetContext(LAMBDA_CODE_CONTEXT) === 'prebuilt';
    super(scope, id, {
      entry: path.join(FUNCTIONS_DIR, `${props.entry}.ts`),
      handler: prebuilt ? `${props.entry}.handler` : 'handler',
      ...(prebuilt ? { code: lambda.Code.fromAsset(FUNCTIONS_DIR) } : {}),
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      role,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      ...(props.vpc
        ? { vpc: props.vpc, vpcSubnets: props.vpcSubnets, securityGroups: props.securityGroups }
        : {}),
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        tsconfig: path.join(INFRA_DIR, 'tsconfig.json'),
        // Bundled CommonJS dependencies (pg) call require: give the ESM bundle one.
        banner:
          "import { createRequire as saasctlRequire } from 'node:module'; const require = saasctlRequire(import.meta.url);",
        // The runtime's SDK v3 serves sdk.ts's require calls; pg's optional native binding is never used.
        externalModules: ['@aws-sdk/*', '@smithy/*', 'pg-native'],
      },
    });
    logGroup.grantWrite(role);
    if (props.vpc) {
      // ENI management for VPC functions, without the managed AWSLambdaVPCAccessExecutionRole.
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }
    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray trace upload (xray:PutTraceSegments, PutTelemetryRecords) and, for VPC functions, ENI ' +
        'management take no resource ARN. Any other grant on "*" is acknowledged where it is made.',
    );
  }
}
