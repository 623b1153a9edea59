/**
 * The file a worker thread starts from. Compiled (a release's `dist/`), a module's worker is the
 * sibling `NAME.js`. In a checkout, sources run as TypeScript through tsx: the worker is then the
 * sibling `NAME.mjs`, a two-line shim that registers tsx in the new thread (loader hooks are per
 * thread) and imports `NAME.ts`. `from` is the caller's `import.meta.url`.
 */
export function workerEntry(from: string, name: string): URL {
  const source = new URL(from).pathname.endsWith('.ts');
  return new URL(`./${name}${source ? '.mjs' : '.js'}`, from);
}
