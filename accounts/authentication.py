"""DRF authentication with personal API tokens (kept apart from views: DRF imports
authentication classes while its own views module is still loading)."""

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.services import token_authenticate

# `Token` as DRF and CTFd scripts send it, `Bearer` as most HTTP clients do.
SCHEMES = (b"token", b"bearer")
USAGE = "Send 'Authorization: Token <token>' or 'Authorization: Bearer <token>'."


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <token>` or `Bearer <token>`; a bad, expired or
    revoked token, or another scheme, is a 401 that says what works."""

    keyword = "Token"

    def authenticate(self, request: Request):
        header = authentication.get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() not in SCHEMES:
            scheme = header[0].decode(errors="replace")
            raise exceptions.AuthenticationFailed(
                f"Unsupported authorization scheme {scheme!r}. {USAGE}"
            )
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(USAGE)
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = token_authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when credentials are missing.
        return self.keyword
