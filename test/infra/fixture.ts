import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { App, Stack } from 'aws-cdk-lib';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';

import { LAMBDA_CODE_CONTEXT } from '../../infra/lib/saas-function.js';
import { defineStacks, type SaasctlStacks } from '../../infra/lib/saasctl-app.js';

/**
 * The infra app as the tests synthesize it: the real composition (defineStacks, cdk-nag
 * included), with the functions' code taken unbundled (template assertions never run it; one
 * test bundles for real) and without CloudFormation's built-in schema validation (slow, and
 * run by `npm run synth`). Synthesized once per context and shared by the test files.
 */
export interface SynthesizedApp {
  readonly app: App;
  readonly stacks: SaasctlStacks;
  readonly assembly: CloudAssembly;
}

export const SILO_KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const cache = new Map<string, SynthesizedApp>();

export function synthesize(context: Record<string, unknown> = {}): SynthesizedApp {
  const key = JSON.stringify(context);
  const cached = cache.get(key);
  if (cached) return cached;
  const app = new App({
    outdir: mkdtempSync(path.join(os.tmpdir(), 'saasctl-infra-')),
    builtinCloudFormationValidation: false,
    context: {
      stage: 'test',
      [LAMBDA_CODE_CONTEXT]: 'prebuilt',
      platformRegion: 'us-east-1',
      silo: [{ tenantId: 'acme-corp', tier: 'enterprise', region: 'eu-west-1', keyArn: SILO_KEY_ARN }],
      ...context,
    },
  });
  const stacks = defineStacks(app);
  const assembly = app.synth();
  const result = { app, stacks, assembly };
  cache.set(key, result);
  return result;
}

/**
 * Evaluates the intrinsic functions the templates use in values (Fn::Join, Ref, Fn::GetAtt,
 * Fn::Select/Split of ARNs, cross-stack imports) with stand-ins: `Ref X` is `ref:X`,
 * `GetAtt X.Arn` is `X.Arn`, pseudo parameters are a fixed account and region.
 */
export function evaluate(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(evaluate);
  if (!value || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [fn, arg] = entries[0];
    if (fn === 'Ref') return PSEUDO[String(arg)] ?? `ref:${String(arg)}`;
    if (fn === 'Fn::GetAtt') return (arg as string[]).join('.');
    if (fn === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return parts.map((p) => String(evaluate(p))).join(separator);
    }
    if (fn === 'Fn::ImportValue') return `import:${String(evaluate(arg))}`;
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, evaluate(v)]));
}

const PSEUDO: Record<string, string> = {
  'AWS::AccountId': '123456789012',
  'AWS::Region': 'us-east-1',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
};

/** A construct's CloudFormation logical id. */
export function logicalIdOf(construct: { node: { defaultChild?: unknown } }): string {
  const element = construct.node.defaultChild as import('aws-cdk-lib').CfnElement;
  return String(Stack.of(element).resolve(element.logicalId));
}
