import Type from 'typebox';
import { parseSort, type ListSort, type ListWindow } from '../../modules/shared/index.ts';
import { orgRoles, teamRoles } from '../../modules/tenancy/index.ts';
import { readPageRequest, type PageRequest } from '../pagination.ts';

/** Schemas and small helpers shared by the organization, team, member, invitation, settings and audit routes. */

export const OrgRoleSchema = Type.Enum([...orgRoles]);
export const TeamRoleSchema = Type.Enum([...teamRoles]);

export { ProblemSchema, problemResponses } from '../problem.ts';

export const OrgParamsSchema = Type.Object({ org_id: Type.String({ minLength: 1, maxLength: 128 }) });
export type OrgParams = Type.Static<typeof OrgParamsSchema>;

export const NameSchema = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });

export const NoContentSchema = Type.Null({ description: 'No content' });

/** Query fields every list takes: page size, opaque cursor, sort (`field` or `-field`). */
export const listQueryFields = {
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: 'Page size, 1 to 200 (default 50)' })),
  cursor: Type.Optional(Type.String({ maxLength: 512, description: 'next_cursor from the previous page' })),
};

export function sortQueryField(fields: readonly string[], fallback: string) {
  return Type.Optional(
    Type.String({
      maxLength: 64,
      description: `Sort by ${fields.join(', ')}; prefix with - for descending (default ${fallback})`,
    }),
  );
}

export function pageOf<Item extends Type.TSchema>(item: Item) {
  return Type.Object({
    data: Type.Array(item),
    next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next page' }),
  });
}

/** Reads limit, cursor and sort into the page request `toPage` needs and the window repositories take. */
export function readListWindow<Field extends string>(
  query: { limit?: string | undefined; cursor?: string | undefined; sort?: string | undefined },
  fields: readonly Field[],
  fallback: ListSort<Field>,
): { page: PageRequest; window: ListWindow<Field> } {
  const page = readPageRequest({
    ...(query.limit === undefined ? {} : { limit: query.limit }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  });
  const sort = parseSort(query.sort, fields, fallback);
  return { page, window: { sort, limit: page.limit, after: page.after } };
}
