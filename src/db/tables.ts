/** Row types of the tables, as Knex returns them. */
export interface AccountRow {
  id: string;
  name: string;
  email: string;
  password_hash: string;
  role: 'admin' | 'user';
  created_at: Date;
  updated_at: Date;
}

export interface ApiKeyRow {
  id: string;
  account_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
}

export interface LoginFailureRow {
  key: string;
  failures: number;
  window_started_at: Date;
  locked_until: Date | null;
}

export interface SecretRow {
  account_id: string;
  key: string;
  ciphertext: Buffer;
  created_at: Date;
  updated_at: Date;
}

export interface FlowRow {
  id: string;
  account_id: string;
  name: string;
  description: string;
  tags: string[];
  current_version: number;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface FlowVersionRow {
  flow_id: string;
  number: number;
  version_label: string | null;
  hash: string;
  definition: string;
  document: unknown;
  created_by: string | null;
  created_at: Date;
}
