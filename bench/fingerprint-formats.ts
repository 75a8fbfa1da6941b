/**
 * Fingerprint formats benchmark: ANSI/NIST-ITL parse + write of the NBIS samples, WSQ decoding,
 * ISO/IEC 19794-2 parsing and PNG decoding, on the fixtures of test/fixtures/fingerprint.
 *
 *   node --import tsx bench/fingerprint-formats.ts [--seconds 2]
 *
 * Prints one JSON object: for each case the median time of one operation and the throughput.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodePng,
  decodeWsq,
  fingerImages,
  parseAnsiNistTransaction,
  parseFingerMinutiaeRecord,
  writeAnsiNistTransaction,
} from '../src/fingerprint/formats/index.ts';

const i = process.argv.indexOf('--seconds');
const seconds = i >= 0 ? Number(process.argv[i + 1]) : 2;
const dir = fileURLToPath(new URL('../test/fixtures/fingerprint/', import.meta.url));
const read = (p: string) => readFileSync(join(dir, p));

/** Runs `fn` repeatedly for about `seconds` after a warm-up; returns the median ms of one call. */
function measure(fn: () => void): { medianMs: number; runs: number } {
  for (let k = 0; k < 3; k++) fn();
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end || times.length < 5) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { medianMs: Number(times[Math.floor(times.length / 2)]!.toFixed(3)), runs: times.length };
}

const results: Record<string, unknown> = {
  machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
};

const nbis = readdirSync(join(dir, 'nbis-an2k')).filter((f) => f.endsWith('.an2')).map((f) => read(`nbis-an2k/${f}`));
const nbisBytes = nbis.reduce((n, b) => n + b.length, 0);
const an2k = measure(() => {
  for (const b of nbis) writeAnsiNistTransaction(parseAnsiNistTransaction(b));
});
results.ansiNistParseWrite = { files: nbis.length, bytes: nbisBytes, ...an2k, mbPerS: Number((nbisBytes / 1e3 / an2k.medianMs).toFixed(1)) };

const wsqCases: Record<string, Uint8Array> = {
  'sourceafis 832x768': read('sourceafis/wsq-original.wsq'),
  'nbis valid1.1 512x512': fingerImages(parseAnsiNistTransaction(read('nbis-an2k/valid1.1.an2')))[0]!.data,
  'nbis valid1.8 1600x976': fingerImages(parseAnsiNistTransaction(read('nbis-an2k/valid1.8.an2')))[0]!.data,
};
results.wsqDecode = Object.fromEntries(
  Object.entries(wsqCases).map(([name, data]) => {
    const img = decodeWsq(data);
    const m = measure(() => decodeWsq(data));
    return [name, { ...m, megapixelsPerS: Number((img.width * img.height / 1e3 / m.medianMs).toFixed(2)) }];
  }),
);

const iso = readdirSync(join(dir, 'openafis-iso')).filter((f) => f.startsWith('fvc')).map((f) => read(`openafis-iso/${f}`));
const isoM = measure(() => {
  for (let k = 0; k < 200; k++) for (const b of iso) parseFingerMinutiaeRecord(b);
});
results.isoParse = { recordsPerS: Math.round((200 * iso.length * 1000) / isoM.medianMs), ...isoM };

const png = read('sourceafis/wsq-converted.png');
results.pngDecode832x768palette = measure(() => decodePng(png));

console.log(JSON.stringify(results, null, 2));
