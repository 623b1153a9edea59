#!/usr/bin/env node
// `vigil-edge` in a release: compiled JavaScript, no TypeScript loader (a checkout's bin/vigil-edge.mjs runs the sources).
import { main } from './cli.js';

await main(process.argv);
