"""Typed readers for environment variables that fail loudly on malformed values.

Every reader names the variable in its error, so a typo in a deployment's
environment stops the process with a message that says what to fix.
"""

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """Return the variable as text, or `default` when it is unset."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """Return the variable as a boolean; anything but true/false words is an error."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of true/false, 1/0, yes/no, on/off"
    )


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return the variable as an integer within the given bounds."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum {maximum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated variable as a list of non-empty, stripped items."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    """Return the variable as an absolute path (relative ones are made absolute)."""
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


_PG_SCHEMES = {"postgres", "postgresql", "pgsql"}


def parse_database_url(name: str, url: str) -> dict:
    """Turn `postgres://user:pass@host:port/db?opt=v` or `sqlite:///path` into
    a Django DATABASES entry."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///relative/or/absolute -> the path after the third slash.
        path = unquote(parts.path)
        if not path or path == "/":
            raise ImproperlyConfigured(f"{name}={url!r} names no SQLite file")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if scheme not in _PG_SCHEMES:
        raise ImproperlyConfigured(
            f"{name}={url!r} has an unsupported scheme {parts.scheme!r}; "
            "use postgres://user:password@host:port/name or sqlite:///path"
        )
    db_name = unquote(parts.path.lstrip("/"))
    if not db_name:
        raise ImproperlyConfigured(f"{name}={url!r} names no database (…/name)")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name}={url!r} has an invalid port") from None
    options = dict(parse_qsl(parts.query))
    # A host given as ?host=/path/to/socket-dir selects a Unix socket.
    host = options.pop("host", None) or unquote(parts.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db_name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "OPTIONS": options,
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


def env_database(name: str, default_sqlite: Path) -> dict:
    """Return the DATABASES['default'] entry from the variable or the SQLite default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(default_sqlite)}
    return parse_database_url(name, raw)


def env_url(name: str, schemes: set[str]) -> str:
    """Return the variable when it is a URL with one of `schemes`, or '' when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ""
    scheme = urlsplit(raw).scheme.lower()
    if scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name}={raw!r} must start with one of "
            + ", ".join(sorted(f"{s}://" for s in schemes))
        )
    return raw


# scheme -> (EMAIL_USE_TLS, EMAIL_USE_SSL)
_EMAIL_SCHEMES = {
    "smtp": (False, False),
    "smtp+tls": (True, False),
    "smtps": (False, True),
}


def parse_email_url(name: str, url: str) -> dict:
    """Turn `smtp://user:pass@host:587` (`smtp+tls://` for STARTTLS, `smtps://`
    for TLS from the start) or `console://` into Django's EMAIL_* settings."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme not in _EMAIL_SCHEMES:
        raise ImproperlyConfigured(
            f"{name}={url!r} has an unsupported scheme {parts.scheme!r}; use "
            "smtp://, smtp+tls:// (STARTTLS), smtps:// (TLS) or console://"
        )
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name}={url!r} has an invalid port") from None
    if not parts.hostname:
        raise ImproperlyConfigured(f"{name}={url!r} names no host")
    use_tls, use_ssl = _EMAIL_SCHEMES[scheme]
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": unquote(parts.hostname),
        "EMAIL_PORT": port or (465 if use_ssl else 587 if use_tls else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
    }


def env_email() -> dict:
    """Django's EMAIL_* settings from EMAIL_URL, or from the usual EMAIL_HOST,
    EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS and
    EMAIL_USE_SSL; with neither, mail is printed to the console."""
    url = os.environ.get("EMAIL_URL", "").strip()
    host = os.environ.get("EMAIL_HOST", "").strip()
    if url and host:
        raise ImproperlyConfigured("Set EMAIL_URL or EMAIL_HOST, not both.")
    if url:
        return parse_email_url("EMAIL_URL", url)
    if not host:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    use_tls, use_ssl = env_bool("EMAIL_USE_TLS"), env_bool("EMAIL_USE_SSL")
    if use_tls and use_ssl:
        raise ImproperlyConfigured(
            "EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other."
        )
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": host,
        "EMAIL_PORT": env_int("EMAIL_PORT", 25, minimum=1, maximum=65535),
        "EMAIL_HOST_USER": env_str("EMAIL_HOST_USER"),
        "EMAIL_HOST_PASSWORD": env_str("EMAIL_HOST_PASSWORD"),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
    }
