from tests.helpers.databases import db, db_url, pg_database, pg_url  # noqa: F401
