import { expect } from 'chai';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

import { LAMBDA_CODE_CONTEXT } from '../../infra/lib/saas-function.js';
import { stageSettings } from '../../infra/lib/settings.js';
import { SiloStack } from '../../infra/lib/silo-stack.js';
import { tenantTableName } from '../../src/lib/tenants/silo-table.js';
import { SILO_KEY_ARN } from './fixture.js';

/** Resource types CloudFormation cannot tag (or CDK does not tag): everything else must carry tenantId. */
const UNTAGGABLE = new Set([
  'AWS::IAM::Policy',
  'AWS::Lambda::Permission',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Authorizer',
  'AWS::Logs::LogGroup',
]);

function siloTemplate(tenantId: string, extra: Record<string, unknown> = {}): Template {
  const app = new App({
    builtinCloudFormationValidation: false,
    context: { stage: 'test', [LAMBDA_CODE_CONTEXT]: 'prebuilt', ...extra },
  });
  const stack = new SiloStack(app, `silo-${tenantId}`, {
    settings: stageSettings(app),
    platformRegion: 'us-east-1',
    tenant: { tenantId, tier: 'enterprise', region: 'eu-west-1', keyArn: SILO_KEY_ARN },
    ...(extra.tableOwnership === 'stack' ? { tableOwnership: 'stack' as const } : {}),
  });
  return Template.fromStack(stack);
}

describe('infra: SiloStack', function () {
  this.timeout(120_000);

  for (const tenantId of ['acme', 'a1b', 'globex-corp-2', 'x'.repeat(32)]) {
    it(`synthesizes for tenant ${tenantId} with the tenantId tag on every taggable resource`, () => {
      const template = siloTemplate(tenantId);
      const resources = template.toJSON().Resources as Record<
        string,
        { Type: string; Properties?: { Tags?: unknown } }
      >;
      let tagged = 0;
      for (const [id, resource] of Object.entries(resources)) {
        if (UNTAGGABLE.has(resource.Type)) continue;
        const tags = resource.Properties?.Tags;
        const value = Array.isArray(tags)
          ? (tags as { Key: string; Value: string }[]).find((t) => t.Key === 'tenantId')?.Value
          : (tags as Record<string, string> | undefined)?.tenantId;
        expect(value, `${id} (${resource.Type})`).to.equal(tenantId);
        tagged++;
      }
      expect(tagged).to.be.greaterThan(8);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: { SAASCTL_SILO_TENANT: tenantId, SAASCTL_PLATFORM_REGION: 'us-east-1' } },
      });
    });
  }

  it('creates the tenant table with PITR and the tenant key when the stack owns it', () => {
    const template = siloTemplate('acme', { tableOwnership: 'stack' });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: tenantTableName('test', 'acme'),
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { KMSMasterKeyId: SILO_KEY_ARN, SSEEnabled: true, SSEType: 'KMS' },
      Tags: [
        { Key: 'saasctl:stage', Value: 'test' },
        { Key: 'tenantId', Value: 'acme' },
        { Key: 'tier', Value: 'enterprise' },
      ],
    });
    siloTemplate('acme').resourceCountIs('AWS::DynamoDB::Table', 0);
  });

  for (const bad of ['ab', 'Acme', 'acme--corp', '-acme', 'admin', 'acme*', 'x'.repeat(33)]) {
    it(`refuses the invalid tenant id ${JSON.stringify(bad)}`, () => {
      expect(() => siloTemplate(bad)).to.throw(/Invalid tenant id/);
    });
  }
});
