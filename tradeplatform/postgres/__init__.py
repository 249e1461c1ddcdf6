"""Django's PostgreSQL backend (with django-prometheus' metrics) on an outage-aware pool.

ENGINE = "tradeplatform.postgres". Only the connection pool differs from the stock backend;
see tradeplatform/postgres/pool.py for why, and docs/operations.md for the settings.
"""
