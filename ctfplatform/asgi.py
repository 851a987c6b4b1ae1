"""ASGI entry point. Refuses to start on failed checks, like wsgi.py."""

import os

from django.core.asgi import get_asgi_application
from django.core.management import call_command

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctfplatform.settings")
application = get_asgi_application()
call_command("check")
