// Mocha root setup. Command tests run the built CLI (dist/ and its oclif manifest), as users
// do; rebuild it when a source file is newer than the manifest, so a stale build never passes.
import { execSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.SAASCTL_MAX_ATTEMPTS ??= '2';

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

let built = 0;
try {
  built = statSync(path.join(root, 'oclif.manifest.json')).mtimeMs;
} catch {
  built = 0;
}
if (!process.env.SAASCTL_TEST_NO_BUILD && newest(path.join(root, 'src')) > built) {
  execSync('npm run build', { cwd: root, stdio: 'inherit' });
}
