import { parentPort } from 'node:worker_threads';
import { countWithEncoder, loadEncoder } from './tokenizer.ts';

/** Counts tokens of big texts away from the event loop; one message in, one count out. */
parentPort?.on('message', (message: { id: number; text: string }) => {
  void loadEncoder().then((encoder) => {
    parentPort?.postMessage({ id: message.id, count: countWithEncoder(encoder, message.text) });
  });
});
