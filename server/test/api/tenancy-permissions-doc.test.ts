import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderPermissionsTable } from '../../src/modules/tenancy/index.ts';

const documentPath = path.resolve(import.meta.dirname, '../../../docs/permissions.md');
const start = '<!-- permissions-table:start -->';
const end = '<!-- permissions-table:end -->';

/** Cells of a Markdown table, trimmed, so the comparison survives Prettier re-aligning the columns. */
function tableCells(table: string): string[][] {
  return table
    .trim()
    .split('\n')
    .map((line) =>
      line
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((cell) => cell.trim())
        .map((cell) => (/^:?-+:?$/.test(cell) ? '---' : cell)),
    );
}

describe('docs/permissions.md', () => {
  it('shows the permission matrix exactly as permissions.ts defines it', () => {
    const document = readFileSync(documentPath, 'utf8');
    const from = document.indexOf(start);
    const to = document.indexOf(end);
    expect(from, `docs/permissions.md needs the ${start} marker`).toBeGreaterThanOrEqual(0);
    expect(to).toBeGreaterThan(from);
    const rendered = renderPermissionsTable();
    if (process.env.AIHUB_UPDATE_DOCS === '1') {
      writeFileSync(documentPath, `${document.slice(0, from + start.length)}\n\n${rendered}\n\n${document.slice(to)}`);
      return;
    }
    const documented = document.slice(from + start.length, to);
    expect(
      tableCells(documented),
      'docs/permissions.md is stale: run AIHUB_UPDATE_DOCS=1 npx vitest run server/test/api/tenancy-permissions-doc.test.ts',
    ).toEqual(tableCells(rendered));
  });
});
