import { createServer } from 'node:net';
/** A port the kernel just handed out on loopback; servers under test bind it right after. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
//# sourceMappingURL=free-port.js.map
