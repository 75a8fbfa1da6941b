// Bootstrap of a worker thread that runs a TypeScript module: registers tsx in this thread, then
// imports the module named in workerData. Plain JavaScript on purpose: it must load before tsx does.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.openprumWorkerModule);
