import { readFile } from 'node:fs/promises';
import path from 'node:path';

import {
  AdminCreateUserCommand,
  AdminSetUserPasswordCommand,
  InitiateAuthCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { expect } from 'chai';

import { LOCAL_PRE_TOKEN_FUNCTION } from '../../../src/lib/local/emulators/lambda.js';
import { localClients, StackOwner } from '../../../src/lib/local/stack.js';
import { tempHome } from '../../helpers/cli.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const REGION = 'us-east-1';

describe('local stack: cognito-local and its pre-token trigger', function () {
  this.timeout(60_000);
  const { home, dispose } = tempHome('saasctl-trigger-');
  let owner: StackOwner | undefined;

  after(async () => {
    await owner?.stop();
    dispose();
  });

  it('points cognito-local at the Lambda shim and starts DynamoDB when the first token is asked for', async () => {
    owner = await StackOwner.tryAcquire({ home, stage: 'local', region: REGION }, 'session');
    if (!owner) throw new Error('could not take the home');
    const info = await owner.ensure(['cognito']);
    expect(info.endpoints.dynamodb).to.equal(undefined);

    const config = JSON.parse(
      await readFile(path.join(home, 'cognito', '.cognito', 'config.json'), 'utf8'),
    ) as {
      LambdaClient: { endpoint: string };
      TriggerFunctions: Record<string, string>;
    };
    expect(config.TriggerFunctions).to.deep.equal({ PreTokenGeneration: LOCAL_PRE_TOKEN_FUNCTION });
    expect(config.LambdaClient.endpoint).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);

    const clients = localClients(info.endpoints, REGION);
    try {
      const cognito = clients.cognito();
      const { id: UserPoolId, clientId: ClientId } = info.platform.userPool;
      const Username = 'dev@ghost.test';
      await cognito.send(
        new AdminCreateUserCommand({
          UserPoolId,
          Username,
          MessageAction: 'SUPPRESS',
          UserAttributes: [{ Name: 'custom:tenantId', Value: 'ghost' }],
        }),
      );
      await cognito.send(
        new AdminSetUserPasswordCommand({
          UserPoolId,
          Username,
          Password: 'Correct-Horse-9',
          Permanent: true,
        }),
      );
      let failure: Error | undefined;
      const answer = await cognito
        .send(
          new InitiateAuthCommand({
            AuthFlow: 'USER_PASSWORD_AUTH',
            ClientId,
            AuthParameters: { USERNAME: Username, PASSWORD: 'Correct-Horse-9' },
          }),
        )
        .catch((err: Error) => {
          failure = err;
          return undefined;
        });
      // No such tenant in the catalog: the trigger fails, and cognito-local gives no token.
      expect(answer?.AuthenticationResult).to.equal(undefined);
      expect(failure?.name).to.equal('UserLambdaValidationException');
      expect(failure?.message).to.equal(
        `${LOCAL_PRE_TOKEN_FUNCTION} failed with error Tenant "ghost" is unknown: its users get no token..`,
      );
      expect(owner.info().endpoints.dynamodb).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      clients.destroy();
    }
  });
});
