import { request } from 'node:http';

// @aws-sdk/client-lambda is not a dependency of saasctl: it is in node_modules through
// @aws-cdk/toolkit-lib (a devDependency), which is enough for a test of the wire format.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { expect } from 'chai';

import {
  LOCAL_PRE_TOKEN_FUNCTION,
  preTokenFunction,
  startLambdaEmulator,
} from '../../../../src/lib/local/emulators/lambda.js';
import type { RunningService } from '../../../../src/lib/local/services.js';
import type { Tenant, TenantStatus } from '../../../../src/lib/tenants/model.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

function tenant(status: TenantStatus): Tenant {
  return {
    tenantId: 'acme',
    name: 'Acme',
    tier: 'pro',
    isolation: 'pool',
    status,
    region: REGION,
    adminEmail: 'admin@acme.test',
    version: 2,
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
  };
}

/** The event cognito-local 5.3 sends for a sign-in (services/lambda.js): version "0", V1 shape. */
const cognitoLocalEvent = {
  version: '0',
  callerContext: { awsSdkVersion: '2.1692.0', clientId: 'client-1' },
  region: 'local',
  userPoolId: 'local_pool',
  triggerSource: 'TokenGeneration_Authentication',
  userName: 'a1b2c3',
  request: {
    userAttributes: { sub: 'a1b2c3', email: 'dev@acme.test', 'custom:tenantId': 'acme' },
    groupConfiguration: {},
  },
  response: { claimsOverrideDetails: {} },
};

describe('Lambda emulator (loopback Invoke)', () => {
  let emulator: RunningService;
  let lambda: LambdaClient;
  let status: TenantStatus = 'ACTIVE';
  const invoked: unknown[] = [];

  before(async () => {
    emulator = await startLambdaEmulator({
      region: REGION,
      accountId: ACCOUNT,
      functions: {
        echo: (event) => {
          invoked.push(event);
          return { got: event };
        },
        silent: () => undefined,
        fails: () => {
          throw Object.assign(new Error('no tenant for you'), { code: 'TENANT_NOT_ACTIVE' });
        },
        [LOCAL_PRE_TOKEN_FUNCTION]: preTokenFunction({
          get: async (id) => (id === 'acme' ? tenant(status) : undefined),
        }),
      },
    });
    lambda = new LambdaClient({
      endpoint: emulator.endpoint,
      region: REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  });
  after(async () => {
    lambda.destroy();
    await emulator.stop();
  });

  const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const parsed = (bytes: Uint8Array | undefined): unknown => JSON.parse(new TextDecoder().decode(bytes));

  it('invokes a function by name and answers its result with 200', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: payload({ a: 1 }) }));
    expect(out.StatusCode).to.equal(200);
    expect(out.FunctionError).to.equal(undefined);
    expect(out.ExecutedVersion).to.equal('$LATEST');
    expect(parsed(out.Payload)).to.deep.equal({ got: { a: 1 } });
  });

  it('finds a function by its ARN or partial ARN', async () => {
    for (const FunctionName of [
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:echo`,
      `${ACCOUNT}:function:echo`,
    ]) {
      const out = await lambda.send(new InvokeCommand({ FunctionName, Payload: payload({ b: 2 }) }));
      expect(parsed(out.Payload)).to.deep.equal({ got: { b: 2 } });
    }
  });

  it('answers null for a function that returns nothing', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'silent', Payload: payload({}) }));
    expect(parsed(out.Payload)).to.equal(null);
  });

  it('answers a thrown error as Lambda does: 200, FunctionError Unhandled, errorType and errorMessage', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'fails', Payload: payload({}) }));
    expect(out.StatusCode).to.equal(200);
    expect(out.FunctionError).to.equal('Unhandled');
    expect(parsed(out.Payload)).to.deep.include({
      errorType: 'TENANT_NOT_ACTIVE',
      errorMessage: 'no tenant for you',
    });
  });

  it('refuses an unknown function, or one of another account, with ResourceNotFoundException (404)', async () => {
    for (const FunctionName of ['nope', `arn:aws:lambda:${REGION}:111122223333:function:echo`]) {
      let failure: (Error & { $metadata?: { httpStatusCode?: number } }) | undefined;
      await lambda
        .send(new InvokeCommand({ FunctionName, Payload: payload({}) }))
        .catch((err: Error) => (failure = err));
      expect(failure?.name).to.equal('ResourceNotFoundException');
      expect(failure?.$metadata?.httpStatusCode).to.equal(404);
      expect(failure?.message).to.match(/^Function not found: arn:aws:lambda:us-east-1:/);
    }
  });

  it('checks a DryRun without running the function, and refuses asynchronous invocations', async () => {
    const before = invoked.length;
    const dry = await lambda.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'DryRun' }));
    expect(dry.StatusCode).to.equal(204);
    expect(invoked).to.have.length(before);

    let failure: Error | undefined;
    await lambda
      .send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: payload({}) }))
      .catch((err: Error) => (failure = err));
    expect(failure?.name).to.equal('InvalidParameterValueException');
    expect(invoked).to.have.length(before);
  });

  it('refuses a payload that is not JSON with InvalidRequestContentException', async () => {
    const answer = await new Promise<{ status: number; type: string | undefined }>((resolve, reject) => {
      const req = request(
        `${emulator.endpoint}/2015-03-31/functions/echo/invocations`,
        { method: 'POST', agent: false },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              type: res.headers['x-amzn-errortype'] as string | undefined,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end('{not json');
    });
    expect(answer).to.deep.equal({ status: 400, type: 'InvalidRequestContentException' });
  });

  describe('the pre-token function, as cognito-local calls it', () => {
    it("answers cognito-local's version-0 event with claimsOverrideDetails (its V1 shape)", async () => {
      status = 'ACTIVE';
      const out = await lambda.send(
        new InvokeCommand({ FunctionName: LOCAL_PRE_TOKEN_FUNCTION, Payload: payload(cognitoLocalEvent) }),
      );
      expect(out.FunctionError).to.equal(undefined);
      expect((parsed(out.Payload) as { response: unknown }).response).to.deep.equal({
        claimsOverrideDetails: {
          claimsToAddOrOverride: { tenantId: 'acme', tier: 'pro', tenantStatus: 'ACTIVE' },
        },
      });
    });

    it('fails (FunctionError Unhandled) for a user of a suspended tenant, so Cognito issues no token', async () => {
      status = 'SUSPENDED';
      const out = await lambda.send(
        new InvokeCommand({ FunctionName: LOCAL_PRE_TOKEN_FUNCTION, Payload: payload(cognitoLocalEvent) }),
      );
      expect(out.FunctionError).to.equal('Unhandled');
      expect(parsed(out.Payload)).to.deep.include({
        errorType: 'TENANT_NOT_ACTIVE',
        errorMessage: 'Tenant "acme" is SUSPENDED: its users get no token.',
      });
    });
  });
});
