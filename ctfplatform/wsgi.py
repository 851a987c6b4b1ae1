"""WSGI entry point (gunicorn ctfplatform.wsgi). Refuses to start on failed checks."""

import os

from django.core.management import call_command
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctfplatform.settings")
application = get_wsgi_application()
# gunicorn does not run system checks itself; default secrets must stop it too.
call_command("check")
