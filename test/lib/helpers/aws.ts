import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { SaasctlError } from '../../../src/lib/cli/errors.js';

// The lockfile pins SDK releases that support Node 20 (as src/lib/platform/clients.ts notes).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// One stub per client class for the whole mocha run. mockClient() on a class stubs its prototype
// and restores any earlier stub, so two spec files each calling it at module level would leave
// all but the last one with a dead handle (mocha imports every file before running any test).
// Spec files import these and call reset() in beforeEach. The stubs stay installed for the whole
// process, which is why unit and integration tests run in separate mocha processes (npm test):
// a real client in an integration test would otherwise reach these stubs instead of the stack.
export const ddb = mockClient(DynamoDBDocumentClient);
export const cognito = mockClient(CognitoIdentityProviderClient);

export function documentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
}

export function cognitoClient(): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({ region: 'us-east-1' });
}

/** An error shaped like the SDK's service exceptions: only `name` matters to the code under test. */
export function awsError(name: string, message = `mocked ${name}`): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** The SaasctlError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejectionOf(promise: Promise<unknown>): Promise<SaasctlError> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(SaasctlError);
    return err as SaasctlError;
  }
  expect.fail(`expected a SaasctlError, got a result: ${JSON.stringify(outcome)}`);
}

/** The SaasctlError a function throws; fails the test when it returns or throws anything else. */
export function thrownBy(fn: () => unknown): SaasctlError {
  let outcome: unknown;
  try {
    outcome = fn();
  } catch (err) {
    expect(err).to.be.instanceOf(SaasctlError);
    return err as SaasctlError;
  }
  expect.fail(`expected a SaasctlError, got a result: ${JSON.stringify(outcome)}`);
}
