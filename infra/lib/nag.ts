import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag acknowledgments, always scoped to the construct that needs one and always with the
 * reason. Findings that name a resource are matched exactly; a resource of this app is named
 * the way cdk-nag prints it (`<LogicalId.Arn>`), computed from the construct, never written
 * out as a hashed logical id.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** `<LogicalId.Arn>`: how cdk-nag prints a reference to the ARN of one of this app's resources. */
export function nagArn(resource: IConstruct): string {
  const element = resource instanceof CfnElement ? resource : resource.node.defaultChild;
  if (!(element instanceof CfnElement))
    throw new Error(`${resource.node.path} has no CloudFormation resource`);
  return `<${String(Stack.of(element).resolve(element.logicalId))}.Arn>`;
}
