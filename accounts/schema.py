"""OpenAPI: describe our JWT authentication class as SimpleJWT's bearer scheme."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class TokenVersionJWTScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.TokenVersionJWTAuthentication"
    name = "jwtAuth"
