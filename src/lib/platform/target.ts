import path from 'node:path';

import { usageError } from '../cli/errors.js';

export const TARGETS = ['local', 'aws'] as const;
export type TargetName = (typeof TARGETS)[number];

/** Where commands act: the embedded local stack (default) or an AWS account. */
export interface Target {
  readonly name: TargetName;
  readonly stage: string;
  readonly region: string;
  readonly profile?: string;
  /** The local stack's state folder ($SAASCTL_HOME); set on the local target only. */
  readonly home?: string;
}

export interface TargetInput {
  readonly target?: string;
  readonly stage?: string;
  readonly region?: string;
  readonly profile?: string;
}

const STAGE_RULE = /^[a-z][a-z0-9-]{0,15}$/;

export function defaultHome(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return path.resolve(cwd, env.SAASCTL_HOME || '.saasctl');
}

/** Flags win over environment variables, which win over defaults. */
export function resolveTarget(input: TargetInput, env: NodeJS.ProcessEnv = process.env): Target {
  const requested = input.target ?? (env.SAASCTL_TARGET || 'local');
  if (!isTargetName(requested)) {
    throw usageError(
      'INVALID_TARGET',
      `Unknown target "${requested}": the target must be one of ${TARGETS.join(', ')}.`,
    );
  }
  const name = requested;
  const stage = input.stage ?? (env.SAASCTL_STAGE || (name === 'local' ? 'local' : 'dev'));
  if (!STAGE_RULE.test(stage)) {
    throw usageError(
      'INVALID_STAGE',
      `Invalid stage "${stage}": a stage is 1-16 characters, a lowercase letter first, then lowercase letters, digits or hyphens.`,
    );
  }
  const region = assertRegion(input.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1'));
  if (name === 'local') {
    if (input.profile) {
      throw usageError('PROFILE_ON_LOCAL', '--profile applies to the aws target only.', [
        'Add --target aws, or drop --profile.',
      ]);
    }
    return { name, stage, region, home: defaultHome(env) };
  }
  return { name, stage, region, profile: input.profile ?? (env.AWS_PROFILE || undefined) };
}

/** An AWS region name such as us-east-1 (the control plane's, or a tenant's). */
export function assertRegion(region: string): string {
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    throw usageError(
      'INVALID_REGION',
      `Invalid region "${region}": expected an AWS region name such as us-east-1.`,
    );
  }
  return region;
}

function isTargetName(value: string): value is TargetName {
  return (TARGETS as readonly string[]).includes(value);
}

export function describeTarget(target: Target): string {
  if (target.name === 'local') return `local stack (${target.home})`;
  return `aws (stage ${target.stage}, ${target.region}${target.profile ? `, profile ${target.profile}` : ''})`;
}
