import { Validations, type App, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

import { ControlPlaneStack } from './control-plane-stack.js';
import { PoolStack } from './pool-stack.js';
import { stageSettings } from './settings.js';
import { SiloStack, siloStackId, type SiloTenant } from './silo-stack.js';

export interface SaasctlStacks {
  readonly controlPlane?: ControlPlaneStack;
  readonly pool?: PoolStack;
  readonly silos: readonly SiloStack[];
}

/**
 * Context the app reads (`-c key=value`, cdk.json, or CDK_CONTEXT_JSON from the toolkit):
 * - `stage` (default dev), `productionStages` (default prod,production);
 * - `account`, `region`: pin the platform stacks to an environment (default: env-agnostic);
 * - `marketplaceProductCode`, `lakeStart` (`yyyy/MM/dd/HH`): ControlPlaneStack settings;
 * - `silo`: one silo tenant or a list (`{tenantId, tier, region, keyArn, accountId?}`), with
 *   `platformRegion` (the control plane's region) and optional `siloTableOwnership`;
 * - `stacks=silos`: only the silo stacks (what a tenant deploy synthesizes);
 * - `saasctl:nag=off`: skip the cdk-nag AwsSolutions checks (on by default: synth fails on an
 *   unacknowledged error).
 */
export function defineStacks(app: App): SaasctlStacks {
  const settings = stageSettings(app);
  // Server access logs are delivered under a bucket policy, never an ACL (the buckets enforce owner).
  app.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
  const context = (key: string): unknown => app.node.tryGetContext(key);
  if (context('saasctl:nag') !== 'off') Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const env: Environment | undefined =
    context('account') || context('region')
      ? { account: optionalString(context('account')), region: optionalString(context('region')) }
      : undefined;

  let controlPlane: ControlPlaneStack | undefined;
  let pool: PoolStack | undefined;
  if (context('stacks') !== 'silos') {
    controlPlane = new ControlPlaneStack(app, `saasctl-${settings.stage}-control-plane`, {
      settings,
      env,
      description: `saasctl ${settings.stage}: control plane, identity, tenant API, workflows, metering`,
      marketplaceProductCode: optionalString(context('marketplaceProductCode')),
      lakeStart: optionalString(context('lakeStart')),
    });
    pool = new PoolStack(app, `saasctl-${settings.stage}-pool`, {
      settings,
      env,
      description: `saasctl ${settings.stage}: pooled table, pooled PostgreSQL (RLS), documents API`,
      platformKey: controlPlane.platformKey,
      httpApi: controlPlane.api.httpApi,
      authorizerId: controlPlane.api.authorizerId,
    });
  }

  const silos = siloTenants(context('silo')).map((tenant) => {
    const platformRegion = optionalString(context('platformRegion')) ?? optionalString(context('region'));
    if (!platformRegion) {
      throw new Error(
        'A silo needs the control plane region: -c platformRegion=<region> (or -c region=...).',
      );
    }
    const ownership = context('siloTableOwnership');
    return new SiloStack(app, siloStackId(settings.stage, tenant.tenantId), {
      settings,
      tenant,
      platformRegion,
      ...(ownership === 'stack' || ownership === 'workflow' ? { tableOwnership: ownership } : {}),
    });
  });
  return { controlPlane, pool, silos };
}

/** The `silo` context: a JSON string or value, one tenant or a list. */
export function siloTenants(value: unknown): SiloTenant[] {
  if (value === undefined || value === null || value === '') return [];
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  const list = Array.isArray(parsed) ? (parsed as unknown[]) : [parsed];
  return list.map((entry, index) => {
    const record = (entry ?? {}) as Record<string, unknown>;
    const field = (name: string): string => {
      const v = record[name];
      if (typeof v !== 'string' || v === '') throw new Error(`silo[${index}] lacks ${name}`);
      return v;
    };
    return {
      tenantId: field('tenantId'),
      tier: field('tier'),
      region: field('region'),
      keyArn: field('keyArn'),
      ...(typeof record.accountId === 'string' && record.accountId ? { accountId: record.accountId } : {}),
    };
  });
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
