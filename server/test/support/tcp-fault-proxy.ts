import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';

/**
 * How the proxy treats traffic: `forward` passes it; `reset` kills every connection with a TCP reset and resets new
 * ones as they arrive (a crashed or restarting server, a failover); `blackhole` keeps connections open but never
 * forwards a byte either way, and accepts new ones without ever reaching the target (a dead route, a hung server).
 */
export type FaultMode = 'forward' | 'reset' | 'blackhole';

interface ProxiedConnection {
  readonly client: net.Socket;
  upstream: net.Socket | undefined;
}

/** A TCP proxy between the service and a dependency that a test can cut in the ways networks fail. */
export class TcpFaultProxy {
  readonly #server: net.Server;
  readonly #target: { host: string; port: number };
  readonly #connections = new Set<ProxiedConnection>();
  #mode: FaultMode = 'forward';

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    // Half-open allowed: a black hole must not answer a client's FIN with its own, as a dead route would not.
    this.#server = net.createServer({ allowHalfOpen: true }, (client) => this.#accept(client));
  }

  static async start(target: { host: string; port: number }): Promise<TcpFaultProxy> {
    const proxy = new TcpFaultProxy(target);
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  /** Connections currently open through the proxy. */
  get openConnections(): number {
    return this.#connections.size;
  }

  setMode(mode: FaultMode): void {
    const previous = this.#mode;
    this.#mode = mode;
    // A reset kills what is open; leaving a black hole kills what it swallowed, whose protocol state is lost anyway
    // (as a real network's timeouts would).
    if (mode === 'reset' || (previous === 'blackhole' && mode === 'forward')) {
      for (const connection of this.#connections) this.#destroy(connection);
    }
  }

  async close(): Promise<void> {
    for (const connection of this.#connections) this.#destroy(connection);
    this.#server.close();
    await once(this.#server, 'close');
  }

  #accept(client: net.Socket): void {
    if (this.#mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const connection: ProxiedConnection = { client, upstream: undefined };
    this.#connections.add(connection);
    client.on('error', () => this.#destroy(connection));
    client.on('close', () => this.#destroy(connection));
    if (this.#mode === 'blackhole') {
      // Accepted, then silence: the client's connect succeeds and its startup message goes nowhere.
      client.on('data', () => undefined);
      return;
    }
    const upstream = net.connect({ port: this.#target.port, host: this.#target.host, allowHalfOpen: true });
    connection.upstream = upstream;
    upstream.on('error', () => this.#destroy(connection));
    upstream.on('close', () => this.#destroy(connection));
    client.on('data', (chunk) => {
      if (this.#mode === 'forward') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (this.#mode === 'forward') client.write(chunk);
    });
    client.on('end', () => {
      if (this.#mode === 'forward') upstream.end();
    });
    upstream.on('end', () => {
      if (this.#mode === 'forward') client.end();
    });
  }

  #destroy(connection: ProxiedConnection): void {
    if (!this.#connections.delete(connection)) return;
    if (!connection.client.destroyed) connection.client.resetAndDestroy();
    if (connection.upstream && !connection.upstream.destroyed) connection.upstream.destroy();
  }
}
