#!/usr/bin/env node
// `vigil-hub` in a release: compiled JavaScript, no TypeScript loader (a checkout's bin/vigil-hub.mjs runs the sources).
import { main } from './cli.js';

await main(process.argv);
