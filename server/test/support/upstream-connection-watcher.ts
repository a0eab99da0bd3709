import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP relay placed between the gateway and the mock upstream, so a test can see the gateway abandon an upstream
 * stream: it closes the connection while the upstream is still in the middle of sending it. The mock itself cannot
 * report that.
 */
export interface UpstreamConnectionWatcher {
  /** Rewrites the mock's base URL (`http://127.0.0.1:<port>/v1`) to pass through this relay. */
  relay(upstreamUrl: string): string;
  /** Upstream streams (SSE responses without their closing `[DONE]`) the gateway cut by closing the connection. */
  readonly streamsCutByGateway: number;
  /** Resolves once more than `count` streams were cut; rejects after `timeoutMs`. */
  waitForStreamCut(count: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Enough of one response to see its headers and its end; SSE frames of the mock are far smaller. */
const exchangeCapacity = 64 * 1024;

export async function startUpstreamConnectionWatcher(): Promise<UpstreamConnectionWatcher> {
  let targetPort: number | undefined;
  let streamsCutByGateway = 0;
  const waiters = new Set<() => void>();
  const sockets = new Set<net.Socket>();

  const server = net.createServer((gatewaySide) => {
    if (targetPort === undefined) {
      gatewaySide.destroy();
      return;
    }
    const upstreamSide = net.connect(targetPort, '127.0.0.1');
    sockets.add(gatewaySide).add(upstreamSide);
    let upstreamClosed = false;
    // What the upstream sent since the gateway last wrote: the response to the request in flight (keep-alive
    // connections carry many in turn).
    let exchange = '';
    gatewaySide.on('data', () => {
      exchange = '';
    });
    upstreamSide.on('data', (chunk: Buffer) => {
      if (exchange.length < exchangeCapacity) exchange += chunk.toString('latin1');
    });
    // Resets are expected here: both sides are torn down abruptly on purpose.
    gatewaySide.on('error', () => undefined);
    upstreamSide.on('error', () => undefined);
    upstreamSide.on('close', () => {
      upstreamClosed = true;
      sockets.delete(upstreamSide);
      gatewaySide.destroy();
    });
    gatewaySide.on('close', () => {
      sockets.delete(gatewaySide);
      const midStream = exchange.includes('text/event-stream') && !exchange.includes('data: [DONE]');
      if (!upstreamClosed && midStream) {
        streamsCutByGateway += 1;
        for (const wake of waiters) wake();
      }
      upstreamSide.destroy();
    });
    gatewaySide.pipe(upstreamSide);
    upstreamSide.pipe(gatewaySide);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relayPort = (server.address() as AddressInfo).port;

  return {
    relay(upstreamUrl) {
      const url = new URL(upstreamUrl);
      targetPort = Number(url.port);
      url.port = String(relayPort);
      return url.toString().replace(/\/$/, '');
    },
    get streamsCutByGateway() {
      return streamsCutByGateway;
    },
    waitForStreamCut(count, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (streamsCutByGateway <= count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the gateway did not cut its upstream stream within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
