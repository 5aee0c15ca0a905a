import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import {
  CreateAccountCommand,
  type CreateAccountCommandInput,
  type CreateAccountStatus,
  DescribeCreateAccountStatusCommand,
  ListAccountsCommand,
  ListTagsForResourceCommand,
  OrganizationsClient,
  paginateListAccounts,
  type Tag,
  TagResourceCommand,
} from '@aws-sdk/client-organizations';
import { expect } from 'chai';

import {
  startOrganizationsEmulator,
  type OrganizationsEmulatorOptions,
} from '../../../../src/lib/local/emulators/organizations.js';
import type { RunningService } from '../../../../src/lib/local/services.js';

// As in test/lib/helpers/aws.ts: the lockfile pins SDK releases that support Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const MANAGEMENT_ACCOUNT = '111122223333';
const TARGET = 'AWSOrganizationsV20161128';

describe('Organizations emulator', () => {
  let directory: string;
  let emulator: RunningService;
  let client: OrganizationsClient;

  async function start(options: Partial<OrganizationsEmulatorOptions> = {}): Promise<void> {
    emulator = await startOrganizationsEmulator({ directory, accountId: MANAGEMENT_ACCOUNT, ...options });
    client = new OrganizationsClient({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
  }

  async function stop(): Promise<void> {
    client.destroy();
    await emulator.stop();
  }

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'saasctl-organizations-'));
    await start();
  });

  afterEach(async () => {
    await stop();
    await rm(directory, { recursive: true, force: true });
  });

  function createAccount(input: Partial<CreateAccountCommandInput> = {}): Promise<CreateAccountStatus> {
    return client
      .send(new CreateAccountCommand({ Email: 'tenant@example.com', AccountName: 'tenant', ...input }))
      .then((output) => output.CreateAccountStatus ?? expect.fail('no CreateAccountStatus'));
  }

  async function describeStatus(id: string | undefined): Promise<CreateAccountStatus> {
    const output = await client.send(new DescribeCreateAccountStatusCommand({ CreateAccountRequestId: id }));
    return output.CreateAccountStatus ?? expect.fail('no CreateAccountStatus');
  }

  /** Polls as a caller on AWS would, returning every state seen. */
  async function pollUntilDone(id: string | undefined): Promise<CreateAccountStatus[]> {
    const seen: CreateAccountStatus[] = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      const status = await describeStatus(id);
      seen.push(status);
      if (status.State !== 'IN_PROGRESS') return seen;
    }
    return expect.fail(`still IN_PROGRESS after 10 polls`);
  }

  async function createdAccountId(input: Partial<CreateAccountCommandInput> = {}): Promise<string> {
    const { Id } = await createAccount(input);
    const last = (await pollUntilDone(Id)).at(-1);
    expect(last?.State, last?.FailureReason).to.equal('SUCCEEDED');
    return last?.AccountId ?? expect.fail('no AccountId');
  }

  async function rejectionOf(promise: Promise<unknown>): Promise<Error & { Reason?: string }> {
    try {
      await promise;
    } catch (error) {
      return error as Error & { Reason?: string };
    }
    return expect.fail('expected the call to be rejected');
  }

  async function allTags(resourceId: string): Promise<Tag[]> {
    const tags: Tag[] = [];
    let NextToken: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await client.send(new ListTagsForResourceCommand({ ResourceId: resourceId, NextToken }));
      tags.push(...(page.Tags ?? []));
      NextToken = page.NextToken;
      if (!NextToken) return tags;
    }
    return expect.fail('NextToken never ran out');
  }

  async function post(operation: string, body: string): Promise<Response> {
    return fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${TARGET}.${operation}` },
      body,
    });
  }

  describe('CreateAccount and DescribeCreateAccountStatus', () => {
    it('answers IN_PROGRESS first, then SUCCEEDED with a new 12-digit account id', async () => {
      const created = await createAccount({ AccountName: 'acme' });
      expect(created.Id).to.match(/^car-[a-z0-9]{32}$/);
      expect(created.State).to.equal('IN_PROGRESS');
      expect(created.AccountName).to.equal('acme');
      expect(created.RequestedTimestamp).to.be.instanceOf(Date);
      expect(Math.abs(Date.now() - (created.RequestedTimestamp?.getTime() ?? 0))).to.be.below(5000);

      const seen = await pollUntilDone(created.Id);
      expect(seen.map((status) => status.State)).to.deep.equal(['IN_PROGRESS', 'SUCCEEDED']);
      const done = seen[1];
      expect(done?.AccountId)
        .to.match(/^\d{12}$/)
        .and.not.equal(MANAGEMENT_ACCOUNT);
      expect(done?.CompletedTimestamp).to.be.instanceOf(Date);
      expect(done?.FailureReason).to.equal(undefined);
    });

    it('keeps a request IN_PROGRESS for pollsUntilCreated polls, then keeps answering SUCCEEDED', async () => {
      await stop();
      await start({ pollsUntilCreated: 3 });
      const { Id } = await createAccount();
      const states = [];
      for (let poll = 0; poll < 5; poll++) states.push((await describeStatus(Id)).State);
      expect(states).to.deep.equal(['IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED', 'SUCCEEDED']);
    });

    it('does not list the account until its creation has succeeded', async () => {
      const { Id } = await createAccount({ Email: 'pending@example.com' });
      const before = await client.send(new ListAccountsCommand({}));
      expect(before.Accounts?.map((account) => account.Email)).to.not.include('pending@example.com');
      await pollUntilDone(Id);
      const after = await client.send(new ListAccountsCommand({}));
      expect(after.Accounts?.map((account) => account.Email)).to.include('pending@example.com');
    });

    it('accepts a duplicate email, then ends the request FAILED with EMAIL_ALREADY_EXISTS', async () => {
      await createdAccountId({ Email: 'taken@example.com' });
      const second = await createAccount({ Email: 'Taken@Example.com', AccountName: 'again' });
      expect(second.State).to.equal('IN_PROGRESS');
      const last = (await pollUntilDone(second.Id)).at(-1);
      expect(last?.State).to.equal('FAILED');
      expect(last?.FailureReason).to.equal('EMAIL_ALREADY_EXISTS');
      expect(last?.AccountId).to.equal(undefined);
      const { Accounts = [] } = await client.send(new ListAccountsCommand({}));
      expect(
        Accounts.filter((account) => account.Email?.toLowerCase() === 'taken@example.com'),
      ).to.have.length(1);
    });

    it("treats the management account's email as taken", async () => {
      const { Accounts = [] } = await client.send(new ListAccountsCommand({}));
      const management = Accounts.find((account) => account.Id === MANAGEMENT_ACCOUNT);
      const { Id } = await createAccount({ Email: management?.Email });
      expect((await pollUntilDone(Id)).at(-1)?.FailureReason).to.equal('EMAIL_ALREADY_EXISTS');
    });

    it('ends FAILED with INVALID_EMAIL for an address that matches the API pattern but breaks the address rules', async () => {
      const { Id } = await createAccount({ Email: '.dot@example.com' });
      const last = (await pollUntilDone(Id)).at(-1);
      expect(last?.State).to.equal('FAILED');
      expect(last?.FailureReason).to.equal('INVALID_EMAIL');
    });

    const invalidRequests: [what: string, input: Partial<CreateAccountCommandInput>, reason: string][] = [
      ['an empty account name', { AccountName: '' }, 'MIN_LENGTH_EXCEEDED'],
      ['an account name over 50 characters', { AccountName: 'n'.repeat(51) }, 'MAX_LENGTH_EXCEEDED'],
      ['an account name outside printable ASCII', { AccountName: 'tenant\n' }, 'INVALID_PATTERN'],
      ['an email under 6 characters', { Email: 'a@b.c' }, 'MIN_LENGTH_EXCEEDED'],
      ['an email over 64 characters', { Email: `${'a'.repeat(53)}@example.com` }, 'MAX_LENGTH_EXCEEDED'],
      ['an email without an @', { Email: 'tenant.example.com' }, 'INVALID_PATTERN'],
      ['an email without a dot in the domain', { Email: 'tenant@localhost' }, 'INVALID_PATTERN'],
      ['a role name with spaces', { RoleName: 'Admin Role' }, 'INVALID_PATTERN'],
      ['a missing email', { Email: undefined }, 'INPUT_REQUIRED'],
      [
        'a reserved aws: tag key',
        { Tags: [{ Key: 'aws:owner', Value: 'x' }] },
        'INVALID_SYSTEM_TAGS_PARAMETER',
      ],
      [
        'a repeated tag key',
        {
          Tags: [
            { Key: 'tier', Value: 'pro' },
            { Key: 'tier', Value: 'basic' },
          ],
        },
        'DUPLICATE_TAG_KEY',
      ],
    ];
    for (const [what, input, reason] of invalidRequests) {
      it(`rejects ${what} with InvalidInputException ${reason}, creating nothing`, async () => {
        const error = await rejectionOf(createAccount(input));
        expect(error.name).to.equal('InvalidInputException');
        expect(error.Reason).to.equal(reason);
        const { Accounts = [] } = await client.send(new ListAccountsCommand({}));
        expect(Accounts).to.have.length(1);
      });
    }

    it('answers CreateAccountStatusNotFoundException for a request id it never issued', async () => {
      const error = await rejectionOf(describeStatus(`car-${'0'.repeat(32)}`));
      expect(error.name).to.equal('CreateAccountStatusNotFoundException');
    });

    it('rejects a request id that is not shaped like car-... with InvalidInputException', async () => {
      const error = await rejectionOf(describeStatus('request-1'));
      expect(error.name).to.equal('InvalidInputException');
      expect(error.Reason).to.equal('INVALID_PATTERN');
    });
  });

  describe('ListAccounts', () => {
    it('lists the management account and a created account with ARN, join method and tags', async () => {
      const id = await createdAccountId({
        Email: 'acme@example.com',
        AccountName: 'acme',
        Tags: [{ Key: 'tenant', Value: 'acme' }],
      });
      const { Accounts = [], NextToken } = await client.send(new ListAccountsCommand({}));
      expect(NextToken).to.equal(undefined);
      expect(Accounts.map((account) => account.Id)).to.deep.equal([MANAGEMENT_ACCOUNT, id]);
      const [management, created] = Accounts;
      const arn = new RegExp(`^arn:aws:organizations::${MANAGEMENT_ACCOUNT}:account/o-[a-z0-9]{10,32}/`);
      expect(management?.Arn)
        .to.match(arn)
        .and.match(new RegExp(`/${MANAGEMENT_ACCOUNT}$`));
      expect(management?.JoinedMethod).to.equal('INVITED');
      expect(created).to.include({
        Arn: `${management?.Arn?.replace(/\d{12}$/, '')}${id}`,
        Email: 'acme@example.com',
        Name: 'acme',
        Status: 'ACTIVE',
        JoinedMethod: 'CREATED',
      });
      expect(created?.JoinedTimestamp).to.be.instanceOf(Date);
      expect(await allTags(id)).to.deep.equal([{ Key: 'tenant', Value: 'acme' }]);
    });

    it('pages with MaxResults and NextToken, listing every account exactly once', async () => {
      const ids = [MANAGEMENT_ACCOUNT];
      for (let n = 0; n < 4; n++) ids.push(await createdAccountId({ Email: `tenant${n}@example.com` }));
      const pages: string[][] = [];
      for await (const page of paginateListAccounts({ client, pageSize: 2 }, {})) {
        pages.push((page.Accounts ?? []).map((account) => account.Id ?? ''));
        if (pages.length > 10) expect.fail('NextToken never ran out');
      }
      expect(pages.map((page) => page.length)).to.deep.equal([2, 2, 1]);
      expect(pages.flat()).to.deep.equal(ids);
    });

    it('rejects MaxResults outside 1-20 with InvalidInputException', async () => {
      const high = await rejectionOf(client.send(new ListAccountsCommand({ MaxResults: 21 })));
      expect([high.name, high.Reason]).to.deep.equal(['InvalidInputException', 'MAX_VALUE_EXCEEDED']);
      const low = await rejectionOf(client.send(new ListAccountsCommand({ MaxResults: 0 })));
      expect([low.name, low.Reason]).to.deep.equal(['InvalidInputException', 'MIN_VALUE_EXCEEDED']);
    });

    it('rejects a NextToken it did not issue', async () => {
      const error = await rejectionOf(client.send(new ListAccountsCommand({ NextToken: 'not-a-token' })));
      expect([error.name, error.Reason]).to.deep.equal(['InvalidInputException', 'INVALID_NEXT_TOKEN']);
    });
  });

  describe('TagResource and ListTagsForResource', () => {
    it('merges tags: new keys are added and existing keys take the new value', async () => {
      const id = await createdAccountId({
        Tags: [
          { Key: 'tenant', Value: 'acme' },
          { Key: 'tier', Value: 'basic' },
        ],
      });
      await client.send(
        new TagResourceCommand({
          ResourceId: id,
          Tags: [
            { Key: 'tier', Value: 'pro' },
            { Key: 'stage', Value: '' },
          ],
        }),
      );
      expect(await allTags(id)).to.deep.equal([
        { Key: 'tenant', Value: 'acme' },
        { Key: 'tier', Value: 'pro' },
        { Key: 'stage', Value: '' },
      ]);
    });

    it('tags the management account like any member', async () => {
      await client.send(
        new TagResourceCommand({
          ResourceId: MANAGEMENT_ACCOUNT,
          Tags: [{ Key: 'role', Value: 'management' }],
        }),
      );
      expect(await allTags(MANAGEMENT_ACCOUNT)).to.deep.equal([{ Key: 'role', Value: 'management' }]);
    });

    it('answers TargetNotFoundException for an account outside the organization', async () => {
      const tagging = await rejectionOf(
        client.send(new TagResourceCommand({ ResourceId: '999999999999', Tags: [{ Key: 'k', Value: 'v' }] })),
      );
      expect(tagging.name).to.equal('TargetNotFoundException');
      const listing = await rejectionOf(
        client.send(new ListTagsForResourceCommand({ ResourceId: '999999999999' })),
      );
      expect(listing.name).to.equal('TargetNotFoundException');
    });

    it('rejects an account ARN as ResourceId with InvalidInputException, as AWS wants the bare id', async () => {
      const { Accounts = [] } = await client.send(new ListAccountsCommand({}));
      const error = await rejectionOf(
        client.send(new ListTagsForResourceCommand({ ResourceId: Accounts[0]?.Arn })),
      );
      expect([error.name, error.Reason]).to.deep.equal(['InvalidInputException', 'INVALID_PATTERN']);
    });

    it('pages tags with NextToken', async () => {
      const id = await createdAccountId();
      const tags = Array.from({ length: 30 }, (_, n) => ({ Key: `key${n}`, Value: `value${n}` }));
      await client.send(new TagResourceCommand({ ResourceId: id, Tags: tags }));
      const first = await client.send(new ListTagsForResourceCommand({ ResourceId: id }));
      expect(first.Tags).to.have.length(20);
      expect(first.NextToken).to.be.a('string');
      expect(await allTags(id)).to.deep.equal(tags);
    });

    it('refuses to take an account past 50 tags with ConstraintViolationException, keeping the old tags', async () => {
      const id = await createdAccountId();
      const tags = Array.from({ length: 50 }, (_, n) => ({ Key: `key${n}`, Value: '' }));
      await client.send(new TagResourceCommand({ ResourceId: id, Tags: tags }));
      const error = await rejectionOf(
        client.send(new TagResourceCommand({ ResourceId: id, Tags: [{ Key: 'one-more', Value: '' }] })),
      );
      expect([error.name, error.Reason]).to.deep.equal([
        'ConstraintViolationException',
        'MAX_TAG_LIMIT_EXCEEDED',
      ]);
      expect(await allTags(id)).to.have.length(50);
    });
  });

  describe('wire format', () => {
    it('answers an operation it does not implement with UnknownOperationException', async () => {
      const response = await post('DeleteOrganization', '{}');
      expect(response.status).to.equal(400);
      expect(await response.json()).to.deep.include({ __type: 'UnknownOperationException' });
    });

    it('sends timestamps as epoch seconds and errors with __type and Message', async () => {
      const created = await post(
        'CreateAccount',
        JSON.stringify({ Email: 'wire@example.com', AccountName: 'w' }),
      );
      expect(created.headers.get('content-type')).to.equal('application/x-amz-json-1.1');
      const { CreateAccountStatus } = (await created.json()) as {
        CreateAccountStatus: Record<string, unknown>;
      };
      expect(CreateAccountStatus.RequestedTimestamp)
        .to.be.a('number')
        .within(Date.now() / 1000 - 5, Date.now() / 1000);
      const rejected = await post(
        'CreateAccount',
        JSON.stringify({ Email: 'wire@example.com', AccountName: '' }),
      );
      expect(rejected.status).to.equal(400);
      expect(await rejected.json()).to.have.keys('__type', 'Message', 'Reason');
    });
  });

  describe('persistence', () => {
    it('keeps accounts, tags and in-flight requests across a restart', async () => {
      const id = await createdAccountId({
        Email: 'kept@example.com',
        Tags: [{ Key: 'tenant', Value: 'kept' }],
      });
      await client.send(new TagResourceCommand({ ResourceId: id, Tags: [{ Key: 'tier', Value: 'pro' }] }));
      const pending = await createAccount({ Email: 'pending@example.com' });
      await describeStatus(pending.Id);
      const before = await client.send(new ListAccountsCommand({}));

      await stop();
      expect(await readdir(directory)).to.deep.equal(['organizations.json']);
      await start();

      const after = await client.send(new ListAccountsCommand({}));
      expect(after.Accounts).to.deep.equal(before.Accounts);
      expect(await allTags(id)).to.deep.equal([
        { Key: 'tenant', Value: 'kept' },
        { Key: 'tier', Value: 'pro' },
      ]);
      // The one poll before the restart counted: the next one completes the request.
      expect((await describeStatus(pending.Id)).State).to.equal('SUCCEEDED');
      const duplicate = await createAccount({ Email: 'kept@example.com' });
      expect((await pollUntilDone(duplicate.Id)).at(-1)?.FailureReason).to.equal('EMAIL_ALREADY_EXISTS');
    });

    it('refuses to start on state that belongs to another management account', async () => {
      await stop();
      const state = JSON.parse(await readFile(path.join(directory, 'organizations.json'), 'utf8')) as object;
      expect(state).to.include({ managementAccountId: MANAGEMENT_ACCOUNT });
      const error = await rejectionOf(startOrganizationsEmulator({ directory, accountId: '444455556666' }));
      expect(error.message).to.include(MANAGEMENT_ACCOUNT);
      await start();
    });
  });
});
