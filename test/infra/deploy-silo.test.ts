import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import type { Reporter } from '../../src/lib/cli/reporter.js';
import {
  deploySilo,
  needsDedicatedCompute,
  siloAppContext,
  siloStackName,
  type SiloToolkit,
} from '../../src/lib/infra/deploy-silo.js';
import { localPlatformConfig, type PlatformConfig } from '../../src/lib/platform/config.js';
import type { Tenant } from '../../src/lib/tenants/model.js';

const infraDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'infra');
const config: PlatformConfig = {
  ...localPlatformConfig('prod', 'us-east-1', { id: 'pool', clientId: 'client' }),
  accountId: '111122223333',
};
const tenant: Tenant = {
  tenantId: 'acme-corp',
  name: 'Acme',
  tier: 'enterprise',
  isolation: 'silo',
  status: 'ACTIVE',
  region: 'eu-west-1',
  adminEmail: 'ops@acme.test',
  version: 4,
  createdAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:00:00.000Z',
  keyArn: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  dataTable: 'prod-tenant-acme-corp',
};

function recorder(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    step: (title) => ({
      done: (d) => lines.push(`done ${title} ${d ?? ''}`),
      skipped: () => lines.push(`skipped ${title}`),
      failed: () => lines.push(`failed ${title}`),
    }),
  };
}

/** A toolkit that records its calls and deploys nothing. */
function fakeToolkit(outcome: 'ok' | 'fail' = 'ok'): SiloToolkit & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return {
    calls,
    fromCdkApp: async (app, props) => {
      calls.push(['fromCdkApp', app, props]);
      return { source: 'assembly' };
    },
    deploy: async (source, stackName) => {
      calls.push(['deploy', source, stackName]);
      if (outcome === 'fail') throw new Error('ROLLBACK_COMPLETE');
      return { stacks: [{ stackName, outputs: { ApiUrl: 'https://silo.example' } }] };
    },
  };
}

describe('deploySilo (toolkit-lib, mocked)', () => {
  it('synthesizes only the silo stacks with the tenant context and deploys exactly its stack', async () => {
    const kit = fakeToolkit();
    const reporter = recorder();
    const result = await deploySilo({ tenant, config, infraDir }, reporter, async () => kit);
    expect(result).to.deep.equal({
      tenantId: 'acme-corp',
      stackName: 'saasctl-prod-silo-acme-corp',
      outputs: { ApiUrl: 'https://silo.example' },
    });
    expect(kit.calls).to.deep.equal([
      [
        'fromCdkApp',
        'npx tsx bin/app.ts',
        {
          workingDirectory: infraDir,
          context: {
            stage: 'prod',
            stacks: 'silos',
            platformRegion: 'us-east-1',
            silo: [{ tenantId: 'acme-corp', tier: 'enterprise', region: 'eu-west-1', keyArn: tenant.keyArn }],
          },
        },
      ],
      ['deploy', { source: 'assembly' }, 'saasctl-prod-silo-acme-corp'],
    ]);
    expect(reporter.lines).to.deep.equal([
      'done silo stack saasctl-prod-silo-acme-corp (eu-west-1) saasctl-prod-silo-acme-corp',
    ]);
  });

  it('passes the tenant account of an enterprise-account tenant', () => {
    const context = siloAppContext(
      { ...tenant, isolation: 'silo-account', accountId: '444455556666' },
      config,
    );
    expect((context.silo as { accountId?: string }[])[0].accountId).to.equal('444455556666');
  });

  it('refuses pooled tenants and tenants without a key, before loading the toolkit', async () => {
    let loaded = false;
    const load = async (): Promise<SiloToolkit> => {
      loaded = true;
      return fakeToolkit();
    };
    for (const [other, code] of [
      [{ ...tenant, isolation: 'pool' as const }, 'NOT_A_SILO_TENANT'],
      [{ ...tenant, keyArn: undefined }, 'TENANT_KEY_MISSING'],
    ] as const) {
      let error: unknown;
      try {
        await deploySilo({ tenant: other, config, infraDir }, recorder(), load);
      } catch (err) {
        error = err;
      }
      expect((error as { code?: string }).code).to.equal(code);
    }
    expect(loaded).to.equal(false);
  });

  it('reports a failed deploy as SILO_DEPLOY_FAILED with the step marked failed', async () => {
    const reporter = recorder();
    let error: unknown;
    try {
      await deploySilo({ tenant, config, infraDir }, reporter, async () => fakeToolkit('fail'));
    } catch (err) {
      error = err;
    }
    expect((error as { code?: string }).code).to.equal('SILO_DEPLOY_FAILED');
    expect((error as Error).message).to.include('ROLLBACK_COMPLETE');
    expect(reporter.lines).to.deep.equal(['failed silo stack saasctl-prod-silo-acme-corp (eu-west-1)']);
  });

  it('names the stack the infra app names, and knows which isolations get dedicated compute', () => {
    expect(siloStackName('dev', 'globex')).to.equal('saasctl-dev-silo-globex');
    expect(() => siloStackName('dev', 'Not Valid')).to.throw(/Invalid tenant id/);
    expect(
      ['pool', 'pool-dedicated-table', 'silo', 'silo-account'].map((i) => needsDedicatedCompute(i as never)),
    ).to.deep.equal([false, false, true, true]);
  });
});
