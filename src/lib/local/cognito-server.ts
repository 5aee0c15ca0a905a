// Child process entry: runs cognito-local in this process's cwd (its state folder) and reports
// the port it listens on over IPC. Started by services.ts; not a command.
import { createServer, type RequestListener } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

const requireCjs = createRequire(import.meta.url);

interface CognitoLocal {
  createDefaultServer(logger: unknown): Promise<{ application: RequestListener }>;
}

async function main(): Promise<void> {
  // cognito-local stamps its tokens' issuer from PORT and HOST as it loads (server/config.js),
  // and with PORT=0 the issuer said port 0. So the port is taken first, on a server with no
  // handler yet (no one knows the port, so no request can arrive), and cognito-local loaded after
  // with PORT set to it: the `iss` claim then names the address tokens really come from, without
  // the race of picking a free port in the parent and hoping it is still free here.
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, process.env.HOST ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  process.env.PORT = String(address.port);
  const cognitoEntry = requireCjs.resolve('cognito-local');
  const pino = createRequire(cognitoEntry)('pino') as (options: { level: string }) => unknown;
  const cognito = requireCjs('cognito-local') as CognitoLocal;
  const { application } = await cognito.createDefaultServer(pino({ level: 'silent' }));
  server.on('request', application);
  process.send?.({ port: address.port });
}

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
main().catch((err: unknown) => {
  process.send?.({ error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
