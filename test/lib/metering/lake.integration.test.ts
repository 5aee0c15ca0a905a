import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';

import { startService, type RunningService } from '../../../src/lib/local/services.js';
import { localClients } from '../../../src/lib/local/stack.js';
import {
  listLakeKeys,
  readLakeObject,
  writeLakeObject,
  type LakeLine,
} from '../../../src/lib/metering/lake.js';
import { hourPrefix, parseLakeObjectKey } from '../../../src/lib/metering/lake-layout.js';

const BUCKET = 'lake-test';

describe('the raw lake on s3rver', function () {
  this.timeout(60_000);
  let directory: string;
  let s3rver: RunningService;
  let clients: ReturnType<typeof localClients>;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'saasctl-lake-'));
    s3rver = await startService(directory, 's3', 'us-east-1');
    clients = localClients({ s3: s3rver.endpoint }, 'us-east-1');
    await clients.s3().send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    clients.destroy();
    await s3rver.stop();
    await rm(directory, { recursive: true, force: true });
  });

  it("writes gzip NDJSON under Firehose's layout for the arrival hour, and reads it back line by line", async () => {
    const arrival = new Date('2026-11-27T10:15:30.000Z');
    const lines = Array.from({ length: 2_500 }, (_, i) => ({ eventId: `evt-${i}`, quantity: i }));
    const { key } = await writeLakeObject(clients.s3(), BUCKET, { stream: 'usage', arrival, lines });
    expect(key.startsWith('raw/2026/11/27/10/usage-1-2026-11-27-10-15-30-')).to.equal(true);
    expect(parseLakeObjectKey(key)?.prefixHour).to.equal('2026-11-27T10');

    const read: LakeLine[] = [];
    for await (const line of readLakeObject(clients.s3(), BUCKET, key)) read.push(line);
    expect(read.map((l) => ('value' in l ? l.value : l.malformed))).to.deep.equal(lines);
  });

  it('hands back lines that are not JSON as malformed instead of failing the object', async () => {
    const key = 'raw/2026/11/27/11/usage-1-2026-11-27-11-00-00-00000000-0000-4000-8000-000000000001.gz';
    await clients.s3().send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: gzipSync('{"eventId":"a"}\nnot json\n\n{"eventId":"b"}\n'),
      }),
    );
    const read: LakeLine[] = [];
    for await (const line of readLakeObject(clients.s3(), BUCKET, key)) read.push(line);
    expect(read).to.deep.equal([
      { key, value: { eventId: 'a' } },
      { key, malformed: 'not json' },
      { key, value: { eventId: 'b' } },
    ]);
  });

  it('lists every key of the given hour partitions across pages, without a delimiter', async () => {
    const arrival = (minute: number) => new Date(Date.UTC(2026, 11, 31, 23, minute, 0));
    const written: string[] = [];
    for (let i = 0; i < 7; i++) {
      written.push(
        (
          await writeLakeObject(clients.s3(), BUCKET, {
            stream: 'usage',
            arrival: arrival(i),
            lines: [{ i }],
          })
        ).key,
      );
    }
    written.push(
      (
        await writeLakeObject(clients.s3(), BUCKET, {
          stream: 'usage',
          arrival: new Date(Date.UTC(2027, 0, 1, 0, 5)),
          lines: [{}],
        })
      ).key,
    );
    const keys: string[] = [];
    for await (const key of listLakeKeys(
      clients.s3(),
      BUCKET,
      [hourPrefix('2026-12-31T23'), hourPrefix('2027-01-01T00')],
      3,
    )) {
      keys.push(key);
    }
    expect(keys).to.deep.equal([...written].sort());
  });
});
