/**
 * Worker thread that reads one DNA file into a store (bulk.ts reads the two files of a comparison
 * side by side). Started only through startWorker (util/workers.ts); its data is the file and the
 * read options. Answers { ok: true, ... } with the rows in shared memory, or { ok: false, error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isOpenPrumError } from '../errors/index.ts';
import { readProfileFile, type ReadFileOptions } from './formats.ts';
import { LocusTable, StoreBuilder } from './store.ts';

const { path, options } = (workerData as { data: { path: string; options: ReadFileOptions } }).data;
const port = parentPort!;

try {
  const table = new LocusTable();
  const builder = new StoreBuilder(table);
  const summary = await readProfileFile(path, (enc, ref, kind, line) => builder.add(enc, ref, kind, line), {
    ...options,
    onProgress: (n) => port.postMessage({ progress: n }),
  });
  const store = builder.finish();
  port.postMessage({
    ok: true,
    format: summary.format,
    records: summary.records,
    refused: builder.refused,
    infos: table.infos,
    geno: table.geno.slice(0, store.width),
    count: store.count,
    width: store.width,
    rows: store.rows,
    kinds: store.kinds,
    lines: store.lines,
    refs: store.refs,
  });
} catch (e) {
  port.postMessage({
    ok: false,
    error: isOpenPrumError(e) ? { code: e.code, message: e.message, details: e.details } : { code: 'internal', message: (e as Error)?.stack ?? String(e) },
  });
}
