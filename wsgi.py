"""WSGI entry point: `gunicorn -c config/gunicorn.conf.py wsgi:app`."""
import sys

from api import create_app
from config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # one clear line, no traceback, non-zero exit
    print(f"gatehouse: configuration error: {exc}", file=sys.stderr)
    sys.exit(1)
