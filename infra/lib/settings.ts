import { RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

import { platformParameterName } from '../../src/lib/platform/config.js';

/**
 * What every stack of one stage agrees on: the stage, whether it is a production stage (RETAIN
 * and deletion protection on stateful resources), and the fixed physical names the CLI, the
 * Lambdas and the other stacks use without a cross-stack reference.
 */
export interface StageSettings {
  readonly stage: string;
  readonly production: boolean;
  /** Tables, keys and the database: RETAIN in production, DESTROY elsewhere. */
  readonly removalPolicy: RemovalPolicy;
  /** `/saasctl/<stage>/platform`: the parameter the CLI and every Lambda read. */
  readonly platformParameter: string;
  readonly names: ResourceNames;
}

/** Stages are lowercase and short: they go into table, stream, role and Glue names. */
export const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,15}$/;
export const DEFAULT_PRODUCTION_STAGES: readonly string[] = ['prod', 'production'];

export interface ResourceNames {
  readonly controlPlaneTable: string;
  readonly pooledTable: string;
  readonly usageTable: string;
  readonly ledgerTable: string;
  readonly usageStream: string;
  /** The Firehose stream's name is part of every raw object's key (lake-layout.ts). */
  readonly lakeDeliveryStream: string;
  readonly userPool: string;
  readonly appClient: string;
  readonly tenantRuntimeRole: string;
  readonly onboardingStateMachine: string;
  readonly offboardingStateMachine: string;
  /** Glue names: lowercase letters, digits and underscores only (athena.ts refuses others). */
  readonly glueDatabase: string;
  readonly glueTable: string;
  readonly athenaWorkgroup: string;
  readonly httpApi: string;
}

/** The names the aws target uses; the tables and stream match `localPlatformConfig`'s. */
export function resourceNames(stage: string): ResourceNames {
  const prefix = `saasctl-${stage}`;
  return {
    controlPlaneTable: `${prefix}-control-plane`,
    pooledTable: `${prefix}-pooled`,
    usageTable: `${prefix}-usage`,
    ledgerTable: `${prefix}-marketplace-ledger`,
    usageStream: `${prefix}-usage`,
    lakeDeliveryStream: `${prefix}-usage-lake`,
    userPool: prefix,
    appClient: `${prefix}-app`,
    tenantRuntimeRole: `${prefix}-tenant-runtime`,
    onboardingStateMachine: `${prefix}-onboarding`,
    offboardingStateMachine: `${prefix}-offboarding`,
    glueDatabase: `saasctl_${stage.replaceAll('-', '_')}`,
    glueTable: 'raw_events',
    athenaWorkgroup: prefix,
    httpApi: `${prefix}-tenant-api`,
  };
}

/**
 * Reads the stage from context (`-c stage=prod`, default `dev`) and the production stages
 * (`-c productionStages=prod,production`).
 */
export function stageSettings(scope: Construct): StageSettings {
  const stage = String(scope.node.tryGetContext('stage') ?? 'dev');
  if (!STAGE_PATTERN.test(stage)) {
    throw new Error(
      `Invalid stage "${stage}": 1-16 characters of lowercase letters, digits and hyphens, starting with a letter.`,
    );
  }
  const productionContext: unknown = scope.node.tryGetContext('productionStages');
  const productionStages =
    typeof productionContext === 'string'
      ? productionContext.split(',').map((s) => s.trim())
      : Array.isArray(productionContext)
        ? productionContext.map(String)
        : DEFAULT_PRODUCTION_STAGES;
  const production = productionStages.includes(stage);
  return {
    stage,
    production,
    removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    platformParameter: platformParameterName(stage),
    names: resourceNames(stage),
  };
}
