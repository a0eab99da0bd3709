export { auditSnapshot, recordAuditEvent, redactSecrets } from './audit-recorder.ts';
export type { AuditEventInput } from './audit-recorder.ts';
export { AuditLog } from './audit-log.ts';
export type { AuditEventFilters, AuditEventRow } from './audit-log.ts';
