import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { SaasctlError } from '../cli/errors.js';
import type { Reporter } from '../cli/reporter.js';
import type { PlatformConfig } from '../platform/config.js';
import { assertTenantId, type IsolationModel, type Tenant } from '../tenants/model.js';

/**
 * Deploying a silo tenant's dedicated compute (the infra app's SiloStack) on the aws target,
 * with the CDK toolkit library. The toolkit is a heavy, development-only dependency: it is
 * loaded on first use here and never from the CLI's startup path (bench/startup.js checks
 * that no CDK code is reachable from bin/).
 */

/** Tiers whose isolation gives the tenant its own compute: the silo stack is theirs. */
export function needsDedicatedCompute(isolation: IsolationModel): boolean {
  return isolation === 'silo' || isolation === 'silo-account';
}

/** The CloudFormation stack of a tenant's silo (infra/lib/silo-stack.ts uses the same name). */
export function siloStackName(stage: string, tenantId: string): string {
  return `saasctl-${stage}-silo-${assertTenantId(tenantId)}`;
}

/** What the infra app's `silo` context holds for one tenant. */
export interface SiloContext {
  readonly tenantId: string;
  readonly tier: string;
  readonly region: string;
  readonly keyArn: string;
  readonly accountId?: string;
}

/** The context the infra app synthesizes one tenant's silo with (only the silo stacks). */
export function siloAppContext(tenant: Tenant, config: PlatformConfig): Record<string, unknown> {
  if (!tenant.keyArn) {
    throw new SaasctlError(
      'TENANT_KEY_MISSING',
      `Tenant "${tenant.tenantId}" has no key yet: its silo is deployed after onboarding creates it.`,
      {
        exitCode: 4,
        actions: [`Finish onboarding first: see \`saasctl tenant status ${tenant.tenantId}\`.`],
      },
    );
  }
  const silo: SiloContext = {
    tenantId: tenant.tenantId,
    tier: tenant.tier,
    region: tenant.region,
    keyArn: tenant.keyArn,
    ...(tenant.accountId ? { accountId: tenant.accountId } : {}),
  };
  return { stage: config.stage, stacks: 'silos', platformRegion: config.region, silo: [silo] };
}

/** The subset of the toolkit this module drives; tests pass their own. */
export interface SiloToolkit {
  fromCdkApp(
    app: string,
    props: { readonly workingDirectory: string; readonly context: Record<string, unknown> },
  ): Promise<unknown>;
  /** Deploys exactly one stack of the source, selected by name (the toolkit's must-match-single). */
  deploy(source: unknown, stackName: string): Promise<{ readonly stacks: readonly SiloDeployedStack[] }>;
}

export interface SiloDeployedStack {
  readonly stackName: string;
  readonly outputs: Readonly<Record<string, string>>;
}

export interface SiloDeployRequest {
  readonly tenant: Tenant;
  readonly config: PlatformConfig;
  /** The infra app's folder (default: `infra/` of this checkout). */
  readonly infraDir?: string;
}

export interface SiloDeployResult {
  readonly tenantId: string;
  readonly stackName: string;
  readonly outputs: Readonly<Record<string, string>>;
}

/** The command that runs the infra app (cdk.json's `app`). */
export const INFRA_APP_COMMAND = 'npx tsx bin/app.ts';

/**
 * Synthesizes and deploys the tenant's silo stack: the infra app run with the tenant's context
 * (its id, tier, region, key and account), only the silo stacks, the one stack selected.
 * CloudFormation makes it idempotent: deploying an unchanged silo changes nothing.
 */
export async function deploySilo(
  request: SiloDeployRequest,
  reporter: Reporter,
  toolkit: () => Promise<SiloToolkit> = cdkToolkit(reporter),
): Promise<SiloDeployResult> {
  const { tenant, config } = request;
  if (!needsDedicatedCompute(tenant.isolation)) {
    throw new SaasctlError(
      'NOT_A_SILO_TENANT',
      `Tenant "${tenant.tenantId}" is ${tenant.isolation}: only silo tiers have dedicated compute to deploy.`,
      { exitCode: 4 },
    );
  }
  const stackName = siloStackName(config.stage, tenant.tenantId);
  const context = siloAppContext(tenant, config);
  const infraDir = request.infraDir ?? defaultInfraDir();
  if (!existsSync(path.join(infraDir, 'bin', 'app.ts'))) {
    throw new SaasctlError('INFRA_APP_NOT_FOUND', `The infra app is not at ${infraDir}.`, {
      actions: ['Run from a checkout of saasctl with its development dependencies (npm ci).'],
    });
  }
  const step = reporter.step(`silo stack ${stackName} (${tenant.region})`);
  try {
    const kit = await toolkit();
    const source = await kit.fromCdkApp(INFRA_APP_COMMAND, { workingDirectory: infraDir, context });
    const result = await kit.deploy(source, stackName);
    const deployed = result.stacks.find((s) => s.stackName === stackName) ?? result.stacks[0];
    if (!deployed) throw new Error(`The toolkit deployed no stack named ${stackName}`);
    step.done(deployed.stackName);
    return { tenantId: tenant.tenantId, stackName: deployed.stackName, outputs: deployed.outputs };
  } catch (err) {
    step.failed();
    if (err instanceof SaasctlError) throw err;
    throw new SaasctlError('SILO_DEPLOY_FAILED', `Deploying ${stackName} failed: ${(err as Error).message}`, {
      cause: err,
      actions: [
        `See the stack's events in the CloudFormation console (${tenant.region}), fix the cause, and run again.`,
      ],
    });
  }
}

function defaultInfraDir(): string {
  // src/lib/infra/ and dist/lib/infra/ are both three levels below the checkout's root.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'infra');
}

type ToolkitLib = typeof import('@aws-cdk/toolkit-lib');

/** The real toolkit, loaded on first use, its messages forwarded to the reporter. */
function cdkToolkit(reporter: Reporter): () => Promise<SiloToolkit> {
  return async () => {
    let lib: ToolkitLib;
    try {
      lib = await import('@aws-cdk/toolkit-lib');
    } catch (err) {
      throw new SaasctlError('CDK_TOOLKIT_MISSING', 'The CDK toolkit library is not installed.', {
        cause: err,
        actions: ['Silo deploys run from a checkout with development dependencies: npm ci.'],
      });
    }
    const kit = new lib.Toolkit({
      ioHost: {
        notify: async (msg) => {
          if (msg.level === 'error' || msg.level === 'warn') reporter.warn(msg.message);
          else if (msg.level === 'result' || msg.level === 'info') reporter.progress?.(msg.message);
        },
        // Unattended: every question gets the toolkit's default answer (no prompts in a command).
        requestResponse: async (msg) => msg.defaultResponse,
      },
    });
    return {
      fromCdkApp: (app, props) =>
        kit.fromCdkApp(app, {
          workingDirectory: props.workingDirectory,
          contextStore: new lib.MemoryContext(props.context),
          lookups: false,
        }),
      deploy: async (source, stackName) => {
        const result = await kit.deploy(source as Parameters<typeof kit.deploy>[0], {
          stacks: { strategy: lib.StackSelectionStrategy.PATTERN_MUST_MATCH_SINGLE, patterns: [stackName] },
        });
        return { stacks: result.stacks.map((s) => ({ stackName: s.stackName, outputs: s.outputs })) };
      },
    };
  };
}
