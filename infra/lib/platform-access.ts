import { Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

import type { StageSettings } from './settings.js';

/**
 * The environment and grant every saasctl function needs to read the platform parameter: by
 * name, never by reference, so that functions the parameter names (state machine steps) do not
 * depend on it in a cycle.
 */
export function platformEnvironment(
  settings: StageSettings,
  platformRegion: string = Aws.REGION,
): Record<string, string> {
  return { SAASCTL_STAGE: settings.stage, SAASCTL_PLATFORM_REGION: platformRegion };
}

export function platformParameterArn(scope: Construct, settings: StageSettings, region?: string): string {
  return Stack.of(scope).formatArn({
    service: 'ssm',
    resource: 'parameter',
    resourceName: settings.platformParameter.slice(1),
    ...(region ? { region } : {}),
  });
}

export function grantPlatformRead(
  grantee: Construct & iam.IGrantable,
  settings: StageSettings,
  region?: string,
): void {
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['ssm:GetParameter'],
    resourceArns: [platformParameterArn(grantee, settings, region)],
  });
}
