/**
 * Worker thread of a gallery search: runs scans over the shared gallery shards it is sent.
 * Started only through startWorker (util/workers.ts). The shards' typed arrays are backed by
 * SharedArrayBuffers, so a request carries views, not copies.
 */
import { parentPort } from 'node:worker_threads';
import { scan, type ScanRequest } from './search-core.ts';

const port = parentPort!;

port.on('message', (msg: { id: number; request: ScanRequest } | 'stop') => {
  if (msg === 'stop') {
    port.close();
    return;
  }
  try {
    port.postMessage({ id: msg.id, result: scan(msg.request) });
  } catch (e) {
    port.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});
