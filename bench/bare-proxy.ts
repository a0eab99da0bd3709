/**
 * The least a Node gateway can do: node:http in, undici out, bytes relayed, no auth, validation or metering. Run
 * under the same harness it shows the ceiling a Node process on one core sets before any AI Hub code runs, so the
 * throughput ratio can be read as "framework cost" plus "AI Hub cost". It is a reference, not something to ship.
 *
 *   bare-proxy.ts --upstream http://127.0.0.1:9100 [--port 0]
 */
import { createServer } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  args: process.argv.slice(2),
  strict: true,
  options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } },
});
if (values.upstream === undefined) {
  console.error('usage: bare-proxy.ts --upstream <origin> [--port <n>]');
  process.exit(2);
}
// Same pool settings as AI Hub's upstream client, so the comparison is about the code in between.
const upstream = new Pool(values.upstream, { connections: 256, keepAliveTimeout: 30_000 });

const server = createServer((request, response) => {
  const relay = async (): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
    const upstreamResponse = await upstream.request({
      method: 'POST',
      path: request.url ?? '/',
      headers: { 'content-type': 'application/json' },
      body: Buffer.concat(chunks),
    });
    const contentType = upstreamResponse.headers['content-type'];
    response.writeHead(upstreamResponse.statusCode, {
      'content-type': typeof contentType === 'string' ? contentType : 'application/json',
    });
    await pipeline(upstreamResponse.body, response);
  };
  relay().catch(() => {
    if (!response.headersSent) response.writeHead(502);
    response.end();
  });
});

server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : values.port;
  console.log(`bare proxy listening on http://127.0.0.1:${port}`);
});

const shutDown = (): void => {
  server.close();
  void upstream.close();
};
process.once('SIGTERM', shutDown);
process.once('SIGINT', shutDown);
