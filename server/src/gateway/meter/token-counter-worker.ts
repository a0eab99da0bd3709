import { parentPort } from 'node:worker_threads';
import { countWithEncoder, loadEncoder } from './tokenizer.ts';

/**
 * Counts tokens away from the event loop; one message in, one count out. The rank table is loaded as soon as the
 * worker starts, so a counter warmed at start-up answers its first request without the load.
 */
const encoder = loadEncoder();
parentPort?.on('message', (message: { id: number; text: string }) => {
  void encoder.then((loaded) => {
    parentPort?.postMessage({ id: message.id, count: countWithEncoder(loaded, message.text) });
  });
});
