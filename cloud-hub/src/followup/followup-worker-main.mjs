// Checkout only: the follow-up worker's TypeScript runs through tsx, registered in this thread.
import { register } from 'tsx/esm/api';

register();
await import('./followup-worker-main.ts');
