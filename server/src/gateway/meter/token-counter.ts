import { Worker } from 'node:worker_threads';

/**
 * Counts tokens when an upstream did not report usage (or the client left mid-stream), always in a worker thread:
 * loading the tokenizer's rank table takes the better part of a second of CPU, and one long word takes the encoder
 * quadratic time, so neither may run on the event loop. A count costs a message round trip (tens of microseconds),
 * and counting is off the hot path whenever the upstream reports usage.
 */
export class TokenCounter {
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #waiting = new Map<number, { resolve: (count: number) => void; estimate: number }>();

  async count(text: string): Promise<number> {
    if (text.length === 0) return 0;
    return this.#countInWorker(text);
  }

  /** Rough count for chat messages: content tokens plus the few tokens each message's framing costs. */
  async countMessages(texts: readonly string[]): Promise<number> {
    const perMessageOverhead = 4;
    return (await this.count(texts.join('\n'))) + texts.length * perMessageOverhead;
  }

  async close(): Promise<void> {
    await this.#worker?.terminate();
    this.#worker = undefined;
  }

  #countInWorker(text: string): Promise<number> {
    const worker = this.#ensureWorker();
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      this.#waiting.set(id, { resolve, estimate: Math.ceil(text.length / 4) });
      worker.ref();
      worker.postMessage({ id, text });
    });
  }

  #ensureWorker(): Worker {
    if (!this.#worker) {
      const worker = new Worker(new URL('./token-counter-worker.ts', import.meta.url));
      worker.on('message', (message: { id: number; count: number }) => {
        this.#waiting.get(message.id)?.resolve(message.count);
        this.#waiting.delete(message.id);
        if (this.#waiting.size === 0) worker.unref();
      });
      worker.on('error', () => {
        // A dead tokenizer must not leave requests hanging: fall back to a character estimate.
        for (const waiting of this.#waiting.values()) waiting.resolve(waiting.estimate);
        this.#waiting.clear();
        this.#worker = undefined;
      });
      worker.unref();
      this.#worker = worker;
    }
    return this.#worker;
  }
}
