"""A PostgreSQL database backend that starts the embedded server (core.embedded_db) on the first connection."""
