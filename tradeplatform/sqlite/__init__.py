"""The embedded default's database: django-prometheus' SQLite backend that makes its directory.

ENGINE = "tradeplatform.sqlite". Settings never create directories at import; the database
file's directory (VAR_DIR on the embedded default) is made by the first connection instead,
whichever process opens it first: gunicorn, a Celery worker, manage.py or pytest.
"""
