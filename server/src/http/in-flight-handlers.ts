import type { FastifyInstance, RouteHandlerMethod } from 'fastify';

/**
 * Counts route handlers still running under a path prefix. Gateway handlers write their usage record before they
 * return, also when the connection was cut, so shutdown waits for them before it closes the usage journal: a stream
 * cut at the shutdown deadline still leaves its record.
 */
export class InFlightHandlers {
  #running = 0;
  #waiters: Array<() => void> = [];

  /** Wraps every route registered after this call whose URL starts with `prefix`. */
  track(app: FastifyInstance, prefix: string): void {
    const enter = (): void => {
      this.#running += 1;
    };
    const leave = (): void => this.#leave();
    app.addHook('onRoute', (route) => {
      if (!route.url.startsWith(prefix)) return;
      const handler = route.handler as RouteHandlerMethod;
      route.handler = function (this: FastifyInstance, request, reply) {
        enter();
        let result: unknown;
        try {
          result = handler.call(this, request, reply);
        } catch (error) {
          leave();
          throw error;
        }
        if (isThenable(result)) result.then(leave, leave);
        else leave();
        return result;
      };
    });
  }

  /** Resolves once no tracked handler runs, or after `timeoutMs` (a handler stuck for good must not block the exit). */
  async settled(timeoutMs: number): Promise<void> {
    if (this.#running === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #leave(): void {
    this.#running -= 1;
    if (this.#running > 0) return;
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
