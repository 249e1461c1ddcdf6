#!/usr/bin/env bash
# Write a local .env (git-ignored) for the dev environment with a freshly generated secret.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f .env ] && exit 0
secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(64))')
sed -e "s|^SECRET_KEY=.*|SECRET_KEY=${secret}|" -e "s|^DJANGO_ENV=.*|DJANGO_ENV=dev|" .env.example > .env
echo "Wrote .env for local development (edit it to point at PostgreSQL/Redis)."
