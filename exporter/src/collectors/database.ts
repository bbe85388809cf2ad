// The database itself: client connections by state against max_connections, and the
// database's size against the plan's limit (the inputs of the DbConnectionPoolSaturated and
// LowDiskSpace alerts).
import { Gauge } from 'prom-client';
import { optionalGauge } from './optional-gauge.js';
import type { CollectorFactory } from './types.js';

export interface DatabaseOptions {
  /** the plan's database size limit in bytes; 0 leaves cc_db_size_limit_bytes out */
  sizeLimitBytes: number;
}

/** pg_stat_activity's states, always exported so a state with no sessions reads 0. */
export const CONNECTION_STATES = [
  'active',
  'idle',
  'idle in transaction',
  'idle in transaction (aborted)',
  'fastpath function call',
  'disabled',
] as const;

export const DATABASE_QUERY = `
SELECT (SELECT coalesce(json_object_agg(state, n), '{}'::json)
          FROM (SELECT coalesce(state, 'unknown') AS state, count(*)::integer AS n
                  FROM pg_catalog.pg_stat_activity
                 WHERE backend_type IN ('client backend', 'standalone backend')
                 GROUP BY 1) s) AS connections,
       current_setting('max_connections')::integer AS max_connections,
       pg_catalog.pg_database_size(current_database())::double precision AS size_bytes`;

interface DatabaseRow {
  connections: Record<string, number>;
  max_connections: number;
  size_bytes: number;
}

export const createDatabaseCollector: CollectorFactory<DatabaseOptions> = (registry, { sizeLimitBytes }) => {
  const connections = new Gauge({
    name: 'cc_db_connections',
    help: 'Client connections to the Postgres server, by state.',
    labelNames: ['state'],
    registers: [registry],
  });
  const maxConnections = optionalGauge({
    name: 'cc_db_max_connections',
    help: 'The server setting max_connections.',
    registers: [registry],
  });
  const size = optionalGauge({
    name: 'cc_db_size_bytes',
    help: 'Size of the database on disk.',
    registers: [registry],
  });
  const sizeLimit = optionalGauge({
    name: 'cc_db_size_limit_bytes',
    help: 'The configured size limit of the database plan.',
    registers: [registry],
  });

  return {
    name: 'database',
    async collect(db) {
      const { rows } = await db.query<DatabaseRow>(DATABASE_QUERY);
      const row = rows[0];
      if (!row) throw new Error('database query returned no row');
      this.clear();
      for (const state of CONNECTION_STATES) connections.set({ state }, row.connections[state] ?? 0);
      for (const [state, n] of Object.entries(row.connections)) connections.set({ state }, n);
      maxConnections.set(row.max_connections);
      size.set(row.size_bytes);
      if (sizeLimitBytes > 0) sizeLimit.set(sizeLimitBytes);
    },
    clear() {
      connections.reset();
      maxConnections.clear();
      size.clear();
      sizeLimit.clear();
    },
  };
};
