"""DRF authentication with personal API tokens (kept apart from views: DRF imports
authentication classes while its own views module is still loading)."""

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.services import token_authenticate


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <token>`; a bad, expired or revoked token is a 401."""

    keyword = "Token"

    def authenticate(self, request: Request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as 'Authorization: Token <token>'."
            )
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
