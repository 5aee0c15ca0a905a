// Child process entry: runs cognito-local in this process's cwd (its state folder) and reports
// the port it listens on over IPC. Started by services.ts; not a command.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

const requireCjs = createRequire(import.meta.url);

interface CognitoLocal {
  createDefaultServer(
    logger: unknown,
  ): Promise<{ start(): Promise<{ address(): AddressInfo | string | null }> }>;
}

async function main(): Promise<void> {
  const cognitoEntry = requireCjs.resolve('cognito-local');
  const pino = createRequire(cognitoEntry)('pino') as (options: { level: string }) => unknown;
  const cognito = requireCjs('cognito-local') as CognitoLocal;
  const server = await (await cognito.createDefaultServer(pino({ level: 'silent' }))).start();
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('cognito-local started without a TCP address');
  process.send?.({ port: address.port });
}

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
main().catch((err: unknown) => {
  process.send?.({ error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
