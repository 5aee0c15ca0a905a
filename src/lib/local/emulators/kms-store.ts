import { readFile, rename, writeFile } from 'node:fs/promises';

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export interface Tag {
  readonly TagKey: string;
  readonly TagValue: string;
}

export interface StoredKey {
  readonly id: string;
  readonly description: string;
  readonly creationDate: string;
  /** AES-256 key material, base64. */
  readonly material: string;
  policy: string;
  state: KeyState;
  /** Sorted by TagKey. */
  tags: Tag[];
  /** Set while automatic rotation is enabled. */
  rotationPeriodInDays?: number;
  deletionDate?: string;
  pendingWindowInDays?: number;
}

export interface StoredAlias {
  readonly name: string;
  readonly targetKeyId: string;
  readonly creationDate: string;
}

/** Maps, not plain objects, so a key id such as `__proto__` or `constructor` finds nothing. */
export interface KmsState {
  readonly keys: Map<string, StoredKey>;
  readonly aliases: Map<string, StoredAlias>;
}

interface SavedState {
  readonly version: number;
  readonly keys: StoredKey[];
  readonly aliases: StoredAlias[];
}

const VERSION = 1;

export async function loadKmsState(file: string): Promise<KmsState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return { keys: new Map(), aliases: new Map() };
  }
  const saved = JSON.parse(text) as SavedState;
  if (saved.version !== VERSION) throw new Error(`${file}: unknown KMS state version ${saved.version}`);
  return {
    keys: new Map(saved.keys.map((key) => [key.id, key])),
    aliases: new Map(saved.aliases.map((alias) => [alias.name, alias])),
  };
}

/**
 * Written to a temporary file and renamed over the old one, so a crash never leaves half a file.
 * Callers must not overlap saves (the emulator runs one request at a time). Owner-only, as the
 * file holds key material.
 */
export async function saveKmsState(file: string, state: KmsState): Promise<void> {
  const saved: SavedState = {
    version: VERSION,
    keys: [...state.keys.values()],
    aliases: [...state.aliases.values()],
  };
  await writeFile(`${file}.tmp`, JSON.stringify(saved, null, 2), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}
