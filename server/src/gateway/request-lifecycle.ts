import type { FastifyReply } from 'fastify';
import { isAppError } from '../errors/app-error.ts';
import type { UsageRecordsTable } from '../db/schema.ts';
import type { TokenUsage } from '../providers/spec/provider-adapter.ts';
import type { RequestMeter } from './meter/request-meter.ts';

/** Status recorded for a request whose client went away before the response was complete (nginx's convention). */
export const clientClosedStatus = 499;

export interface DisconnectWatch {
  readonly signal: AbortSignal;
  dispose(): void;
}

/** Aborts upstream work when the client closes its connection before the response is complete. */
export function watchClientDisconnect(reply: FastifyReply): DisconnectWatch {
  const controller = new AbortController();
  const raw = reply.raw;
  const onClose = (): void => {
    if (!raw.writableFinished) controller.abort();
  };
  raw.once('close', onClose);
  return { signal: controller.signal, dispose: () => raw.off('close', onClose) };
}

export interface FailureDescription {
  status: number;
  outcome: UsageRecordsTable['outcome'];
  code: string;
}

export function describeFailure(error: unknown, signal: AbortSignal): FailureDescription {
  if (signal.aborted)
    return { status: clientClosedStatus, outcome: 'client_disconnected', code: 'client_disconnected' };
  if (isAppError(error)) {
    const upstream = error.code.startsWith('upstream_');
    return { status: error.status, outcome: upstream ? 'upstream_error' : 'error', code: error.wireCode };
  }
  return { status: 500, outcome: 'error', code: 'internal_error' };
}

/** Records a request that failed before its response went out; a no-op when the meter has already finished. */
export function recordFailure(meter: RequestMeter, error: unknown, signal: AbortSignal): void {
  const failure = describeFailure(error, signal);
  meter.finish({
    status: failure.status,
    outcome: failure.outcome,
    usage: undefined,
    usageSource: 'none',
    errorCode: failure.code,
  });
}

/**
 * Records a request whose answer was complete on our side. A client that went away meanwhile (while its usage was
 * being counted, say) is recorded as disconnected, with the usage the upstream was paid for.
 */
export function recordCompletion(
  meter: RequestMeter,
  signal: AbortSignal,
  usage: TokenUsage,
  usageSource: UsageRecordsTable['usage_source'],
): void {
  if (signal.aborted) {
    meter.finish({
      status: clientClosedStatus,
      outcome: 'client_disconnected',
      usage,
      usageSource,
      errorCode: 'client_disconnected',
    });
  } else {
    meter.finish({ status: 200, outcome: 'success', usage, usageSource });
  }
}
