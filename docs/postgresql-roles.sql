-- What the operators' sessions may do in ringround's PostgreSQL database.
--
-- docs/deploy-postgresql.md, step 5, explains it. Run it as the owner role, after ringround
-- made the tables, and again after every upgrade of ringround (running it twice changes
-- nothing):
--
--     psql "postgresql://ringround_owner@db1.clinic.lan/ringround" -f postgresql-roles.sql
--
-- The operators' role (ringround_operators, and the login roles that are its members) may
-- read and write the rows of every table, which claiming, finishing, taking over and
-- releasing calls need; it may only read the audit trail and add entries to it; it may
-- not change the tables themselves (only their owner may: ALTER, DROP), nor create new
-- ones, nor change the schema's version number. `ringround check` run as that role says
-- whether this holds.

\set ON_ERROR_STOP on
BEGIN;

-- Nobody but the owner creates anything in the schema (PostgreSQL 15 and newer already
-- ship it so; older versions let every role create tables there).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO ringround_operators;

-- Every table: read, add, change and remove rows ...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ringround_operators;
-- ... except the audit trail, which only grows: an entry once written stays as it is ...
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit FROM ringround_operators;
-- ... and the schema's version, which only the owner's upgrade writes.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ringround_schema
    FROM ringround_operators;

-- Reading the counters of the numbered tables: the audit check compares the highest
-- number ever given with the newest entry, so that cutting off the newest entries shows.
-- (Adding rows needs no right on them; setting a counter back needs UPDATE, not given.)
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ringround_operators;

-- Tables and counters that a later version of ringround adds get the same rights at once,
-- so that operators can work right after the upgrade; this file, run again then, takes
-- back what a new table must not allow.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ringround_operators;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT ON SEQUENCES TO ringround_operators;

COMMIT;
