import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits unless the server is closing; resolves false when it was cut short so the caller stops writing. Zero waits
 * return at once, keeping the benchmark path free of timers.
 */
export async function pause(milliseconds: number, signal: AbortSignal): Promise<boolean> {
  if (milliseconds <= 0) return !signal.aborted;
  try {
    await sleep(milliseconds, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
