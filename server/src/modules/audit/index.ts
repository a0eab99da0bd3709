export { recordAuditEvent, redactSecrets } from './audit-recorder.ts';
export type { AuditEventInput } from './audit-recorder.ts';
