import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { expect } from 'chai';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

import { synthesize } from './fixture.js';

interface Violation {
  readonly ruleName: string;
  readonly severity: string;
  readonly violatingConstructs: { readonly constructPath: string }[];
}

function violations(outdir: string): Violation[] {
  const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: { pluginName: string; violations: Violation[] }[];
  };
  return report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions').flatMap((r) => r.violations);
}

function acknowledgments(root: IConstruct): { path: string; id: string; reason: unknown }[] {
  const found: { path: string; id: string; reason: unknown }[] = [];
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
        found.push({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return found;
}

describe('infra: cdk-nag AwsSolutionsChecks', function () {
  this.timeout(120_000);

  for (const stage of ['test', 'prod']) {
    it(`synthesizes every stack of a ${stage} stage with zero unacknowledged errors`, () => {
      const { assembly } = synthesize(stage === 'test' ? {} : { stage });
      const errors = violations(assembly.directory).filter((v) => v.severity === 'error');
      expect(errors.map((v) => `${v.ruleName} ${v.violatingConstructs[0]?.constructPath}`)).to.deep.equal([]);
      expect(assembly.stacks.map((s) => s.stackName)).to.include.members([
        `saasctl-${stage}-control-plane`,
        `saasctl-${stage}-pool`,
        `saasctl-${stage}-silo-acme-corp`,
      ]);
    });
  }

  it('gives a reason on every acknowledgment, each scoped below the stack', () => {
    const { app } = synthesize();
    const all = acknowledgments(app).filter((a) => a.id.startsWith('AwsSolutions-'));
    expect(all.length).to.be.greaterThan(20);
    for (const { path: where, id, reason } of all) {
      expect(reason, `${id} at ${where}`).to.be.a('string');
      expect((reason as string).length, `${id} at ${where}`).to.be.greaterThan(30);
      // A stack-wide acknowledgment would hide the next finding of the same rule.
      expect(where.split('/').length, `${id} at ${where}`).to.be.greaterThan(1);
    }
  });

  it('fails synthesis on a finding nobody acknowledged (the check is live)', () => {
    const app = new App({
      builtinCloudFormationValidation: false,
      outdir: mkdtempSync(path.join(os.tmpdir(), 'saasctl-nag-')),
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new Stack(app, 'Bad');
    new s3.Bucket(stack, 'PlainBucket');
    expect(() => app.synth()).to.throw(/Validation failed/);
    const found = violations(app.outdir).map((v) => v.ruleName);
    expect(found).to.include.members(['AwsSolutions-S1', 'AwsSolutions-S10']);
  });
});
