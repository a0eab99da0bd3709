import type { Selectable } from 'kysely';
import type { UsageRecordsTable } from '../../src/db/schema.ts';
import type { TestApp } from './test-app.ts';

export type UsageRecordRow = Selectable<UsageRecordsTable>;

/** Writes pending usage records to the database and returns those of one request (by its x-request-id). */
export async function flushAndFindRecords(testApp: TestApp, requestId: string): Promise<UsageRecordRow[]> {
  await testApp.instance.services.gateway.journal.flush();
  const recent = await testApp.instance.services.usage.listRecent(1_000);
  return recent.filter((record) => record.request_id === requestId);
}

/** The single usage record of one request; fails the test when there is none or more than one. */
export async function flushAndFindOnlyRecord(testApp: TestApp, requestId: string): Promise<UsageRecordRow> {
  const records = await flushAndFindRecords(testApp, requestId);
  if (records.length !== 1) {
    throw new Error(`expected exactly one usage record for request ${requestId}, found ${records.length}`);
  }
  return records[0]!;
}

/**
 * Polls for a request's record, for paths where the gateway finishes its meter after the client has gone
 * (a disconnect is noticed asynchronously). Gives up after `timeoutMs`.
 */
export async function waitForRecord(testApp: TestApp, requestId: string, timeoutMs = 3_000): Promise<UsageRecordRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = await flushAndFindRecords(testApp, requestId);
    if (records.length > 0) return records[0]!;
    if (Date.now() > deadline) throw new Error(`no usage record for request ${requestId} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
