/**
 * Nodes as processes of their own: `openprum serve --data-dir …` started as a child process, its log
 * lines prefixed with its state, and ready once its API answers /health. Used by the demo federation
 * (`npm start`) and by the tests that kill a node mid-run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { OpenPrumError } from '../errors/index.ts';

export const OPENPRUM_BIN = fileURLToPath(new URL('../../bin/openprum.js', import.meta.url));

export interface NodeProcessOptions {
  readonly country: string;
  readonly dataDir: string;
  readonly port: number;
  readonly logLevel?: string;
  /** Where its output lines go (default: this process's stderr, prefixed with the state). */
  readonly output?: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

export class NodeProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  private readonly tail: string[] = [];
  /** Called when the process ends without stop() having been asked. */
  onUnexpectedExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  private stopping = false;

  constructor(readonly options: NodeProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The command a person runs to start this node by hand. */
  get command(): string {
    return `openprum serve --data-dir ${this.options.dataDir} --port ${this.options.port}`;
  }

  /** Starts the node and resolves when its API answers; rejects with its last lines if it ends first. */
  async start(timeoutMs = 180_000): Promise<void> {
    if (this.running) throw new Error(`the node of ${this.options.country} runs already`);
    this.stopping = false;
    this.tail.length = 0;
    const out = this.options.output ?? ((line: string) => process.stderr.write(`[${this.options.country}] ${line}\n`));
    const child = spawn(process.execPath, [OPENPRUM_BIN, 'serve', '--data-dir', this.options.dataDir, '--port', String(this.options.port), '--log-level', this.options.logLevel ?? 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.options.env, DATABASE_URL: '' },
    });
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          if (!line) continue;
          this.tail.push(line);
          if (this.tail.length > 20) this.tail.shift();
          out(line);
        }
      });
    }
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(({ code, signal }) => {
      if (!this.stopping) this.onUnexpectedExit?.(code, signal);
    });
    const url = `http://127.0.0.1:${this.options.port}/health`;
    const end = Date.now() + timeoutMs;
    let ended = false;
    void this.exited.then(() => (ended = true));
    for (;;) {
      if (ended) {
        throw new OpenPrumError('unavailable', `The node of ${this.options.country} stopped while starting:\n  ${this.tail.join('\n  ')}`);
      }
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > end) {
        await this.stop();
        throw new OpenPrumError('unavailable', `The node of ${this.options.country} did not answer on ${url} within ${Math.round(timeoutMs / 1000)} s`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Stops the node (SIGTERM, then SIGKILL after `graceMs`) and waits for it to end. */
  async stop(graceMs = 20_000): Promise<void> {
    if (!this.child || !this.exited) return;
    this.stopping = true;
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the node at once (SIGKILL), as a crash would, and waits for it to end. */
  async kill(): Promise<void> {
    if (!this.child || !this.exited) return;
    this.stopping = true;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
