// A fresh database per test file in the throwaway PostgreSQL cluster that
// scripts/pg-cluster.sh started (KASSA_PG_DIR is its DIR):
//
//   import { pgDatabase } from './pg.mjs';
//   const db = await pgDatabase('sync');      // database kassa_sync_<pid>
//   db.conninfo                               // libpq conninfo of that database
//   db.psql('SELECT count(*) FROM ops')       // stdout, e.g. "42\n"
//   db.drop()                                 // at the end (idempotent)
//
// psql runs with -X (no ~/.psqlrc) -A -t (bare values, "|" between
// columns, one row a line) -q (no command tags such as "INSERT 0 1") and
// ON_ERROR_STOP, so the first failing statement throws, with psql's stderr.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const PSQL_15 = '/usr/lib/postgresql/15/bin/psql';
const PSQL = existsSync(PSQL_15) ? PSQL_15 : 'psql';

function clusterConninfo() {
  const dir = process.env.KASSA_PG_DIR;
  if (!dir) {
    throw new Error('KASSA_PG_DIR is not set: start a cluster with `scripts/pg-cluster.sh start DIR` and set KASSA_PG_DIR=DIR');
  }
  const file = path.join(dir, 'conninfo');
  if (!existsSync(file)) {
    throw new Error(`no ${file}: is the cluster in KASSA_PG_DIR=${dir} started (scripts/pg-cluster.sh start ${dir})?`);
  }
  const conninfo = readFileSync(file, 'utf8').trim();
  if (!/(^|\s)dbname=\S+/.test(conninfo)) {
    throw new Error(`${file} has no dbname: ${JSON.stringify(conninfo)}`);
  }
  return conninfo;
}

// The conninfo with its dbname replaced (names we make need no quoting).
function withDbname(conninfo, dbname) {
  return conninfo.replace(/(^|\s)dbname=\S+/, `$1dbname=${dbname}`);
}

// Runs sql (any number of statements, fed on stdin so that statements such
// as CREATE DATABASE are not wrapped in one transaction) against conninfo.
function runPsql(conninfo, sql) {
  try {
    return execFileSync(PSQL, ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', conninfo, '-f', '-'], {
      input: sql,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '10' },
      maxBuffer: 256 * 1024 * 1024,
    });
  } catch (err) {
    const why = err.code === 'ENOENT' ? `${PSQL} not found (install postgresql-client-15: scripts/deps.sh)` : (err.stderr || err.message).trim();
    const e = new Error(`psql on "${conninfo}" failed: ${why}\nSQL: ${sql.length > 2000 ? sql.slice(0, 2000) + '...' : sql}`);
    e.cause = err;
    throw e;
  }
}

export async function pgDatabase(name) {
  if (typeof name !== 'string' || !/^[a-z0-9_]+$/.test(name)) {
    throw new Error(`pgDatabase: name must be lower-case letters, digits and _ , got ${JSON.stringify(name)}`);
  }
  const dbname = `kassa_${name}_${process.pid}`;
  // PostgreSQL would silently truncate a longer name (NAMEDATALEN 64).
  if (dbname.length > 63) {
    throw new Error(`pgDatabase: database name ${dbname} is longer than 63 bytes`);
  }
  const admin = clusterConninfo();
  const conninfo = withDbname(admin, dbname);
  // WITH (FORCE): a previous run with the same PID may have left sessions.
  runPsql(admin, `DROP DATABASE IF EXISTS ${dbname} WITH (FORCE);\nCREATE DATABASE ${dbname};\n`);
  let dropped = false;
  return {
    conninfo,
    dbname,
    psql(sql) {
      return runPsql(conninfo, sql);
    },
    drop() {
      if (dropped) return;
      runPsql(admin, `DROP DATABASE IF EXISTS ${dbname} WITH (FORCE);\n`);
      dropped = true;
    },
  };
}
