"""threadkit: a self-hosted ChatKit backend.

The REST API (wire-compatible with OpenAI's ``/v1/chatkit`` endpoints), the ChatKit
protocol endpoint and the thread stores (SQLite, PostgreSQL) live in subpackages:
``threadkit.api`` (HTTP), ``threadkit.services`` (domain rules) and ``threadkit.stores``.
"""

__version__ = "0.1.0"
