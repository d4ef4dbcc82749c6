-- Two roles for one database, run once by a superuser (psql -f database-roles.sql).
-- todo_owner owns the schema and runs the migrations (the migration Job's
-- MIGRATION_DATABASE_URL); todo_app, the pods' DATABASE_URL, reads and writes
-- rows and sequences but cannot create, alter or drop anything.
-- Replace the passwords; use the database's name in place of todo.

CREATE ROLE todo_owner LOGIN PASSWORD 'change-me-owner';
CREATE ROLE todo_app LOGIN PASSWORD 'change-me-app';

ALTER DATABASE todo OWNER TO todo_owner;
GRANT CONNECT ON DATABASE todo TO todo_app;

\connect todo
ALTER SCHEMA public OWNER TO todo_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO todo_app;

-- Tables and sequences the migrations create from now on.
ALTER DEFAULT PRIVILEGES FOR ROLE todo_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO todo_app;
ALTER DEFAULT PRIVILEGES FOR ROLE todo_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO todo_app;
-- And those that exist already (a database migrated before this file was run).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO todo_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO todo_app;
