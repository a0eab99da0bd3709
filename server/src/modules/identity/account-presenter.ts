import type { AccountRow } from './account-repository.ts';

export interface AccountView {
  id: string;
  email: string;
  name: string;
  platform_role: 'admin' | 'member';
  email_verified: boolean;
  created_at: string;
}

/** An account as the API shows it: never the password hash. */
export function presentAccount(account: AccountRow): AccountView {
  return {
    id: account.id,
    email: account.email,
    name: account.name,
    platform_role: account.role,
    email_verified: account.email_verified_at !== null,
    created_at: new Date(account.created_at).toISOString(),
  };
}
