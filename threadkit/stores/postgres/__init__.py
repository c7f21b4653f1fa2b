"""The PostgreSQL backend: ``PostgresStore`` (store), its pool (connections), statements
(queries), paged lists (listings), migrations and bulk import."""

from .store import PostgresStore

__all__ = ["PostgresStore"]
