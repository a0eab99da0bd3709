import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * Puts an in-process app on a real socket (an ephemeral loopback port) for tests where the wire matters:
 * streaming, client disconnects, SDK clients. Returns the origin, e.g. `http://127.0.0.1:41234`.
 * Call it before the first `inject`, while the app still accepts hooks.
 */
export async function listenOnLoopback(app: FastifyInstance): Promise<string> {
  // Node's fetch opens spare connections that never carry a request; the server does not count them as idle, so
  // closing would wait seconds for the client to drop them. Tests own both ends, so closing drops every connection.
  app.addHook('preClose', async () => {
    app.server.closeAllConnections();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}
