// Worker-thread entry for the follow-up engine: the TypeScript sources run through tsx, as in the main thread.
import { register } from 'tsx/esm/api';

register();
await import('./followup-worker-main.ts');
