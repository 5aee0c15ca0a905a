import { parentPort, workerData } from 'node:worker_threads';

import { LakeObjectParser, type ParsedObject, type ParseSettings } from './lake-parse.js';

/**
 * A stream-engine worker thread: parses the lake objects the engine sends it and sends their
 * columns back, transferring the typed arrays, with the names of the cells it numbered since
 * its previous answer. Errors go back as messages; the thread stays up.
 */
export interface WorkerRequest {
  readonly id: number;
  readonly data: Uint8Array;
  readonly arrival: number;
}

export type WorkerResponse =
  { readonly id: number; readonly parsed: ParsedObject } | { readonly id: number; readonly error: string };

const parser = new LakeObjectParser(workerData as ParseSettings);
const port = parentPort;
port?.on('message', (request: WorkerRequest) => {
  try {
    const parsed = parser.parse(request.data, new Date(request.arrival));
    const response: WorkerResponse = { id: request.id, parsed };
    port.postMessage(response, [
      parsed.cell.buffer,
      parsed.quantity.buffer,
      parsed.uuids.buffer,
      parsed.others.buffer,
      parsed.otherIds.buffer,
      parsed.otherEnds.buffer,
    ] as ArrayBuffer[]);
  } catch (err) {
    port.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) });
  }
});
