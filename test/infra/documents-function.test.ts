/* eslint-disable no-console -- the function logs to its console (CloudWatch); these tests capture it */
import { expect } from 'chai';

import { callerOf, handler } from '../../infra/functions/documents.js';
import { appDatabaseUrl } from '../../infra/functions/platform.js';

const context = {
  tenantId: 'acme',
  tier: 'pro',
  subject: 'user-1',
  accessKeyId: 'ASIAACME',
  secretAccessKey: 'secret',
  sessionToken: 'token',
  expiration: '2026-11-28T00:15:00.000Z',
};
const event = (lambda?: Record<string, string>) => ({
  rawPath: '/documents',
  requestContext: { http: { method: 'GET' }, ...(lambda ? { authorizer: { lambda } } : {}) },
});

describe('the documents Lambda (API Gateway payload 2.0 to the sample API)', () => {
  // The function logs what it answers 500 to its console (CloudWatch); the tests keep it.
  const logged: unknown[] = [];
  const consoleError = console.error;
  before(() => {
    console.error = (...args: unknown[]) => void logged.push(args[0]);
  });
  after(() => {
    console.error = consoleError;
  });

  it("takes the caller from the authorizer's context: tenant, subject and vended credentials", () => {
    expect(callerOf(event(context))).to.deep.equal({
      tenantId: 'acme',
      subject: 'user-1',
      credentials: {
        accessKeyId: 'ASIAACME',
        secretAccessKey: 'secret',
        sessionToken: 'token',
        expiration: '2026-11-28T00:15:00.000Z',
      },
    });
  });

  for (const missing of ['tenantId', 'accessKeyId', 'secretAccessKey', 'sessionToken', 'expiration']) {
    it(`answers 500 without touching AWS when the route lacks the authorizer's ${missing}`, async () => {
      const { [missing as keyof typeof context]: _gone, ...partial } = context;
      const response = await handler(event(partial));
      expect(response.statusCode).to.equal(500);
      expect(JSON.parse(response.body)).to.deep.equal({
        code: 'INTERNAL',
        message: 'The request failed; see the server log.',
      });
      expect(String(logged.at(-1))).to.include('no tenant authorizer context');
    });
  }
});

describe("the functions' connection to the pooled database", () => {
  it('takes the user and password from the app secret and the host from the environment, with verified TLS', () => {
    expect(
      appDatabaseUrl(
        { username: 'saasctl_app', password: 'p@ss/word' },
        { SAASCTL_DB_HOST: 'pool.cluster-abc.eu-west-1.rds.amazonaws.com' },
      ),
    ).to.equal(
      'postgres://saasctl_app:p%40ss%2Fword@pool.cluster-abc.eu-west-1.rds.amazonaws.com:5432/saasctl?sslmode=verify-full',
    );
  });

  it('refuses a secret and environment that give no host', () => {
    expect(() => appDatabaseUrl({ username: 'u', password: 'p' }, {})).to.throw(/SAASCTL_DB_HOST/);
  });
});
