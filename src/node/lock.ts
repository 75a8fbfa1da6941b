/**
 * A lock file in the data directory, so that two processes never open the same embedded database
 * (PGlite is one process's files; a second writer would corrupt them). A lock left by a process that
 * died is recognised by its PID and taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { OpenPrumError } from '../errors/index.ts';

export interface DirLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireDirLock(dataDir: string): DirLock {
  const file = join(dataDir, 'node.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          try {
            unlinkSync(file);
          } catch {
            /* already gone */
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new OpenPrumError('conflict', `The node in ${dataDir} is in use by process ${pid}; stop it first (the embedded database allows one process)`);
      }
      if (pid === process.pid) throw new OpenPrumError('conflict', `The node in ${dataDir} is open in this process already`);
      unlinkSync(file); // stale lock of a process that died
    }
  }
  throw new OpenPrumError('conflict', `Cannot lock ${dataDir}`);
}
