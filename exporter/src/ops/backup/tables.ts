// What the backup covers (the reference report's twelve tables, parents before children) and
// what the database says about them: columns, foreign keys, and the order a restore must follow.
import type { Queryable } from '../../db.js';

/** The app's core tables in dependency order, as db-backup.js of the reference report listed them. */
export const BACKUP_TABLES = [
  'stores',
  'menu_categories',
  'menu_items',
  'menu_item_customizations',
  'ingredient_templates',
  'customers',
  'user_profiles',
  'orders',
  'order_items',
  'alert_rules',
  'alert_history',
  'deployment_log',
] as const;

export const SCHEMA = 'public';

export interface Column {
  name: string;
  type: string;
}

export interface ForeignKey {
  /** the referencing (child) table */
  table: string;
  /** the referenced (parent) table */
  references: string;
  constraint: string;
}

/** The tables of the list that are missing from the database. */
export async function missingTables(db: Queryable, tables: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT t.name
       FROM unnest($1::text[]) AS t(name)
      WHERE to_regclass(format('%I.%I', $2::text, t.name)) IS NULL`,
    [tables, SCHEMA],
  );
  return rows.map((r) => r.name);
}

/** Every table's columns in attribute order (dropped and system columns left out). */
export async function columnsOf(db: Queryable, tables: readonly string[]): Promise<Map<string, Column[]>> {
  const { rows } = await db.query<{ table: string; name: string; type: string }>(
    `SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $2 AND c.relname = ANY ($1::text[]) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`,
    [tables, SCHEMA],
  );
  const columns = new Map<string, Column[]>();
  for (const row of rows) {
    const list = columns.get(row.table) ?? [];
    list.push({ name: row.name, type: row.type });
    columns.set(row.table, list);
  }
  return columns;
}

/**
 * Foreign keys touching the given tables, in either direction, between tables of any schema
 * (a table outside the backup that references one inside matters to a restore).
 * Self-references are left out: they never decide an order.
 */
export async function foreignKeys(db: Queryable, tables: readonly string[]): Promise<ForeignKey[]> {
  const { rows } = await db.query<{ table: string; references: string; constraint: string }>(
    `SELECT CASE WHEN cn.nspname = $2 THEN c.relname ELSE cn.nspname || '.' || c.relname END AS table,
            CASE WHEN pn.nspname = $2 THEN p.relname ELSE pn.nspname || '.' || p.relname END AS references,
            k.conname AS constraint
       FROM pg_catalog.pg_constraint k
       JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
       JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
       JOIN pg_catalog.pg_class p ON p.oid = k.confrelid
       JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
      WHERE k.contype = 'f' AND k.conrelid <> k.confrelid
        AND ((cn.nspname = $2 AND c.relname = ANY ($1::text[])) OR (pn.nspname = $2 AND p.relname = ANY ($1::text[])))
      ORDER BY 1, 2, 3`,
    [tables, SCHEMA],
  );
  return rows;
}

/**
 * The selected tables with every parent before its children (foreign keys among the selected
 * tables), ties kept in the order of `preferred`. Throws on a cycle, which the app has none of.
 */
export function dependencyOrder(selected: readonly string[], keys: readonly ForeignKey[], preferred: readonly string[] = BACKUP_TABLES): string[] {
  const rank = (t: string) => {
    const i = preferred.indexOf(t);
    return i < 0 ? preferred.length : i;
  };
  const remaining = new Set(selected);
  const ordered: string[] = [];
  while (remaining.size > 0) {
    const ready = [...remaining]
      .filter((t) => !keys.some((k) => k.table === t && k.references !== t && remaining.has(k.references)))
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const next = ready[0];
    if (next === undefined) throw new Error(`foreign keys form a cycle between ${[...remaining].join(', ')}`);
    ordered.push(next);
    remaining.delete(next);
  }
  return ordered;
}
