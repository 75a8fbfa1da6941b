/**
 * Worker threads for TypeScript modules. The project runs its sources through tsx (no build step),
 * and on Node 20 a worker does not inherit the tsx loader, so a `.ts` worker starts through a small
 * JavaScript bootstrap that registers tsx in the worker thread and then imports the module.
 * The module reads its own data from `workerData.data`.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

const bootstrap = new URL('./worker-bootstrap.js', import.meta.url);

/** Starts a worker on a TypeScript (or JavaScript) module given as a file URL. */
export function startWorker(moduleUrl: URL, data?: unknown, options: Omit<WorkerOptions, 'workerData'> = {}): Worker {
  return new Worker(bootstrap, { ...options, workerData: { openprumWorkerModule: moduleUrl.href, data } });
}
