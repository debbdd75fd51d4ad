"""Django database backend for the embedded default: PostgreSQL's own backend, plus starting
the embedded server (config/embedded_postgres.py) before a connection is opened."""
