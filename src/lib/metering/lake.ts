import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';

import type { S3Client } from '@aws-sdk/client-s3';

import { sdk } from '../platform/sdk.js';
import { lakeObjectKey, quarantineKey } from './lake-layout.js';

/**
 * The raw usage lake: gzip NDJSON objects under Firehose's key layout, the billing system of
 * record. Writing is what Firehose does on aws (and the local pipeline pump does locally);
 * reading streams objects line by line, never holding the lake in memory.
 */
export async function writeLakeObject(
  s3: S3Client,
  bucket: string,
  object: {
    readonly stream: string;
    readonly arrival: Date;
    readonly lines: readonly unknown[];
    readonly uuid?: string;
  },
): Promise<{ key: string; bytes: number }> {
  const key = lakeObjectKey({
    stream: object.stream,
    arrival: object.arrival,
    uuid: object.uuid ?? randomUUID(),
  });
  return { key, bytes: await putNdjson(s3, bucket, key, object.lines) };
}

/** Malformed events, kept for a person to look at; they never fail a batch. */
export async function writeQuarantineObject(
  s3: S3Client,
  bucket: string,
  object: { readonly arrival: Date; readonly lines: readonly unknown[]; readonly uuid?: string },
): Promise<{ key: string; bytes: number }> {
  const key = quarantineKey({ arrival: object.arrival, uuid: object.uuid ?? randomUUID() });
  return { key, bytes: await putNdjson(s3, bucket, key, object.lines) };
}

async function putNdjson(
  s3: S3Client,
  bucket: string,
  key: string,
  lines: readonly unknown[],
): Promise<number> {
  const body = gzipSync(lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
  await s3.send(
    new (sdk.s3().PutObjectCommand)({
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentEncoding: 'gzip',
      ContentType: 'application/x-ndjson',
    }),
  );
  return body.length;
}

/** A listed lake object: its key, and when S3 last wrote it. */
export interface LakeObjectRef {
  readonly key: string;
  readonly lastModified?: Date;
}

/**
 * Every object under the given prefixes, in key order, listed without a delimiter (s3rver
 * drops prefixes that have no direct child). Paged with ListObjects (v1) and Marker = the last
 * key seen: s3rver answers any truncated ListObjectsV2 page with an internal error on Node 20
 * (it encrypts its continuation token with DES, which needs the legacy OpenSSL provider), and
 * real S3 serves v1 Marker paging just the same.
 */
export async function* listLakeObjects(
  s3: S3Client,
  bucket: string,
  prefixes: readonly string[],
  pageSize = 1000,
  concurrency = LIST_CONCURRENCY,
): AsyncGenerator<LakeObjectRef> {
  // A month is some 750 hour prefixes: they are listed several at once, and yielded in order.
  const listings: Promise<LakeObjectRef[]>[] = [];
  let next = 0;
  const start = (): void => {
    if (next >= prefixes.length) return;
    const listing = listPrefix(s3, bucket, prefixes[next++], pageSize);
    // Awaited in turn below; until then a failure must not surface as an unhandled rejection.
    listing.catch(() => undefined);
    listings.push(listing);
  };
  for (let n = 0; n < concurrency; n++) start();
  for (let i = 0; i < listings.length; i++) {
    const objects = await listings[i];
    start();
    yield* objects;
  }
}

/** Prefixes listed at once. */
export const LIST_CONCURRENCY = 8;

async function listPrefix(
  s3: S3Client,
  bucket: string,
  Prefix: string,
  pageSize: number,
): Promise<LakeObjectRef[]> {
  const { ListObjectsCommand } = sdk.s3();
  const objects: LakeObjectRef[] = [];
  let Marker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix, Marker, MaxKeys: pageSize }));
    const listed = (page.Contents ?? []).map((o) => ({ key: String(o.Key), lastModified: o.LastModified }));
    objects.push(...listed);
    if (!page.IsTruncated || listed.length === 0) return objects;
    Marker = listed[listed.length - 1].key;
  }
}

/** The keys of listLakeObjects. */
export async function* listLakeKeys(
  s3: S3Client,
  bucket: string,
  prefixes: readonly string[],
  pageSize = 1000,
): AsyncGenerator<string> {
  for await (const { key } of listLakeObjects(s3, bucket, prefixes, pageSize)) yield key;
}

/** One line of a lake object: parsed JSON, or the raw text when it is not JSON. */
export type LakeLine =
  { readonly key: string; readonly value: unknown } | { readonly key: string; readonly malformed: string };

/** Streams one object's lines (gunzipped, split, parsed), one at a time. */
export async function* readLakeObject(s3: S3Client, bucket: string, key: string): AsyncGenerator<LakeLine> {
  const { Body } = await s3.send(new (sdk.s3().GetObjectCommand)({ Bucket: bucket, Key: key }));
  if (!Body) return;
  const lines = createInterface({ input: (Body as Readable).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    try {
      yield { key, value: JSON.parse(line) as unknown };
    } catch {
      yield { key, malformed: line };
    }
  }
}
