/**
 * Worker thread of a bulk comparison: receives tasks, runs them over the shared rows, answers with
 * the hits. Started only through startWorker (util/workers.ts), which gives it `workerData.data`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runTask, type BulkData, type BulkTask, type TierBSetup } from './bulk-core.ts';

const data = (workerData as { data: BulkData }).data;
const cache = new Map<string, TierBSetup>();
const port = parentPort!;

port.on('message', (task: BulkTask | 'stop') => {
  if (task === 'stop') {
    port.close();
    return;
  }
  const result = runTask(data, task, cache);
  port.postMessage(result, [result.hits.buffer as ArrayBuffer]);
});
