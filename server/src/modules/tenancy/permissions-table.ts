import { orgRoles, permissions, teamRoles, type Permission } from './permissions.ts';

/**
 * The permission matrix as a Markdown table, for docs/permissions.md. A test renders it and compares it with the
 * file, so the documentation cannot drift from the code.
 */
export function renderPermissionsTable(): string {
  const header = ['action', 'what it allows', ...orgRoles, ...teamRoles.map((role) => `team ${role}`)];
  const rows = Object.entries(permissions).map(([action, permission]: [string, Permission]) => [
    `\`${action}\``,
    permission.description,
    ...orgRoles.map((role) => (permission.orgRoles.includes(role) ? '✓' : '')),
    ...teamRoles.map((role) => (permission.teamRoles?.includes(role) ? '✓ (own team)' : '')),
  ]);
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`.replace(/ {2,}\|/g, ' |');
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
