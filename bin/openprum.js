#!/usr/bin/env node
// Entry point of the `openprum` command. The sources are TypeScript, loaded through tsx so that
// `npx openprum` works right after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
