import type { RetryOptions } from './batch.js';
import type { Limiter } from './batch.js';
import {
  deleteRequests,
  freshCursors,
  getAll,
  parallelScan,
  putRequests,
  writeAll,
  type TableRef,
} from './migration-copy.js';
import {
  itemHash,
  itemKey,
  keyFromId,
  keyId,
  SetDigest,
  type Item,
  type ItemKey,
} from './migration-digest.js';
import type { Difference, JournalEntry, VerifyReport } from './migration-state.js';

/**
 * One side of a migration as verify sees it: the hash of every item by key, and the side's
 * digest (count and sum of hashes), kept in step as items are set or removed.
 */
export class SideSnapshot {
  readonly hashes = new Map<string, Buffer>();
  readonly digest = new SetDigest();

  set(id: string, item: Item | undefined): void {
    const old = this.hashes.get(id);
    if (old) {
      this.digest.remove(old);
      this.hashes.delete(id);
    }
    if (item) {
      const hash = itemHash(item);
      this.hashes.set(id, hash);
      this.digest.add(hash);
    }
  }

  get count(): number {
    return this.digest.count;
  }
}

/** Reads every item of the tenant on one side (parallel segments) into a snapshot. */
export async function snapshotSide(
  ref: TableRef,
  tenantId: string,
  segments: number,
  onItems: (count: number) => void = () => undefined,
): Promise<SideSnapshot> {
  const snapshot = new SideSnapshot();
  await parallelScan(ref, tenantId, freshCursors(segments), async (_segment, items) => {
    for (const item of items) snapshot.set(keyId(itemKey(item)), item);
    onItems(items.length);
  });
  return snapshot;
}

/** Every key whose item is not the same on both sides. */
export function differences(source: SideSnapshot, target: SideSnapshot): Difference[] {
  const found: Difference[] = [];
  for (const [id, hash] of source.hashes) {
    const other = target.hashes.get(id);
    if (!other) found.push({ ...keyFromId(id), kind: 'missing' });
    else if (!other.equals(hash)) found.push({ ...keyFromId(id), kind: 'differs' });
  }
  for (const id of target.hashes.keys()) {
    if (!source.hashes.has(id)) found.push({ ...keyFromId(id), kind: 'extra' });
  }
  return found;
}

/** How many differences a report lists (the count is always complete). */
export const REPORTED_DIFFERENCES = 20;

/** Count and digest of both sides, and what differs. */
export function verifyReport(source: SideSnapshot, target: SideSnapshot, reason?: string): VerifyReport {
  // Equal counts and digests mean equal sides: the item-by-item comparison (which runs inside
  // the write freeze) is only needed to say what differs.
  const found = source.digest.equals(target.digest) ? [] : differences(source, target);
  const equal = found.length === 0 && source.digest.equals(target.digest);
  return {
    sourceItems: source.count,
    targetItems: target.count,
    sourceDigest: source.digest.hex(),
    targetDigest: target.digest.hex(),
    equal,
    differenceCount: found.length,
    differences: found.slice(0, REPORTED_DIFFERENCES),
    ...(equal ? {} : { reason: reason ?? describe(found) }),
  };
}

function describe(found: readonly Difference[]): string {
  const by = (kind: Difference['kind']) => found.filter((d) => d.kind === kind).length;
  return `${found.length} items differ between the copies (${by('missing')} missing from the target, ${by('extra')} only in the target, ${by('differs')} with other content)`;
}

/**
 * The differences that writes made during the copy do not explain: an item differs, and no
 * journal entry names it. Such a difference is a faulty copy (or a writer that bypassed the
 * journal): the migration aborts rather than copy over it.
 */
export function unexplained(found: readonly Difference[], journal: readonly JournalEntry[]): Difference[] {
  const journaled = new Set(journal.map((e) => keyId(e.key)));
  return found.filter((d) => !journaled.has(keyId(d)));
}

/**
 * Copies the current source version of each key to the target (a put, or a delete where the
 * source no longer has it), then reads both back into the snapshots. Keys are read from the
 * source only after the caller's settle wait, so writes journaled before it have landed.
 */
export async function replayKeys(
  itemKeys: readonly ItemKey[],
  source: TableRef,
  target: TableRef,
  snapshots: { readonly source: SideSnapshot; readonly target: SideSnapshot },
  limiter: Limiter,
  retry: RetryOptions = {},
): Promise<{ readonly put: number; readonly deleted: number }> {
  const unique = [...new Map(itemKeys.map((k) => [keyId(k), k])).values()];
  if (unique.length === 0) return { put: 0, deleted: 0 };
  const current = await getAll(source, unique, limiter, retry);
  const gone = unique.filter((k) => !current.has(keyId(k)));
  await writeAll(target, [...putRequests([...current.values()]), ...deleteRequests(gone)], limiter, retry);
  const copied = await getAll(target, unique, limiter, retry);
  for (const key of unique) {
    const id = keyId(key);
    snapshots.source.set(id, current.get(id));
    snapshots.target.set(id, copied.get(id));
  }
  return { put: current.size, deleted: gone.length };
}
