export { Database, type Tx } from './transaction.js';
export {
  resolveDatabase,
  migrateTarget,
  openAppDatabase,
  attachEmbedded,
  type DatabaseTarget,
  type PoolOptions,
} from './open.js';
export {
  migrate,
  migrationStatus,
  readMigrations,
  defaultMigrationsDir,
  type MigrationFile,
  type MigrationStatus,
} from './migrate.js';
export { ensureRoles, assertAppRoleIsConfined, APP_GROUP_ROLE } from './roles.js';
export {
  EmbeddedPostgres,
  hydrateSymlinks,
  locateBinaries,
  type Logger,
} from './embedded-postgres.js';
export { packageRoot, packagePath } from './package-root.js';
