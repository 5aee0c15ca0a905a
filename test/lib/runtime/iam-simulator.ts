// The independent IAM evaluator of the adversarial suite: @cloud-copilot/iam-simulate (AGPL, a
// devDependency only; never imported by src/). It evaluates the tenant runtime role's identity
// policy intersected with a session policy, as IAM does for an AssumeRole session.
import { runSimulation } from '@cloud-copilot/iam-simulate';

import type { SessionPolicy } from '../../../src/lib/runtime/policy.js';

export const ACCOUNT = '000000000000';
export const TABLE_ARN = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/saasctl-dev-pooled`;
export const BUCKET = 'saasctl-dev-tenant-data';

/** What the tenant runtime role itself may do (infra grants it the runtime's whole reach). */
const RUNTIME_ROLE_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['dynamodb:*', 's3:*', 'kms:*'], Resource: '*' }],
};

export interface SimulatedRequest {
  readonly action: string;
  readonly resource: string;
  readonly context?: Record<string, string | string[]>;
}

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

export async function decide(policy: SessionPolicy | object, request: SimulatedRequest): Promise<Decision> {
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/saasctl-dev-tenant-runtime/tenant-session`,
        action: request.action,
        resource: { resource: request.resource, accountId: ACCOUNT },
        contextVariables: request.context ?? {},
      },
      sessionPolicy: policy,
      identityPolicies: [{ name: 'tenant-runtime', policy: RUNTIME_ROLE_POLICY }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`simulation refused: ${JSON.stringify(result.errors)}`);
  return result.overallResult as Decision;
}

/** The requests the runtime makes for a tenant's data: every DynamoDB item action and S3 object action. */
export const DATA_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
];
export const DATA_OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'];

/** Requests that reach tenant `owner`'s data: its bare partition, a shard, and an object. */
export function requestsFor(owner: string): SimulatedRequest[] {
  return [
    ...DATA_ITEM_ACTIONS.flatMap((action) =>
      [`TENANT#${owner}`, `TENANT#${owner}#7`].map((key) => ({
        action,
        resource: TABLE_ARN,
        context: { 'dynamodb:LeadingKeys': [key] },
      })),
    ),
    ...DATA_OBJECT_ACTIONS.map((action) => ({
      action,
      resource: `arn:aws:s3:::${BUCKET}/${owner}/doc-1.json`,
    })),
  ];
}

export interface Leak {
  readonly holder: string;
  readonly victim: string;
  readonly request: SimulatedRequest;
}

/**
 * Every request of `pairs` where the holder's session policy reaches the victim's data. Empty
 * means isolated. Also checks that each holder reaches its own data, so a policy that denies
 * everything cannot pass for an isolating one.
 */
export async function crossTenantLeaks(
  policyOf: (tenantId: string) => object,
  pairs: readonly (readonly [string, string])[],
): Promise<{ leaks: Leak[]; ownDenied: Leak[] }> {
  const leaks: Leak[] = [];
  const ownDenied: Leak[] = [];
  for (const [holder, victim] of pairs) {
    const policy = policyOf(holder);
    for (const request of requestsFor(victim)) {
      if ((await decide(policy, request)) === 'Allowed') leaks.push({ holder, victim, request });
    }
    for (const request of requestsFor(holder)) {
      if ((await decide(policy, request)) !== 'Allowed') ownDenied.push({ holder, victim: holder, request });
    }
    const mixed = {
      action: 'dynamodb:BatchGetItem',
      resource: TABLE_ARN,
      context: { 'dynamodb:LeadingKeys': [`TENANT#${holder}`, `TENANT#${victim}`] },
    };
    if ((await decide(policy, mixed)) === 'Allowed') leaks.push({ holder, victim, request: mixed });
  }
  return { leaks, ownDenied };
}

/** Tenant id pairs where one is a prefix of the other, both ways round. */
export function prefixPairs(bases: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (const base of bases) {
    for (const longer of [`${base}2`, `${base}-2`, `${base}-prod`, `${base}0`, `${base}x`]) {
      pairs.push([base, longer], [longer, base]);
    }
  }
  return pairs;
}
