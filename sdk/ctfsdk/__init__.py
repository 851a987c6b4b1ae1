"""ctfsdk: the Python client of the CTF platform's REST API.

from ctfsdk import Client

client = Client("https://ctf.example.org", token="ctf_...")
for row in client.admin.challenges.stats(limit=100).items:
    print(row.name, row.solves)
"""

from ctfsdk.client import Client
from ctfsdk.errors import (
    APIError,
    AuthenticationFailed,
    BadRequest,
    Conflict,
    ConnectionFailed,
    CtfSdkError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TaskTimeout,
)
from ctfsdk.models import Page

__all__ = [
    "APIError",
    "AuthenticationFailed",
    "BadRequest",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "CtfSdkError",
    "NotFound",
    "Page",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "TaskTimeout",
]
