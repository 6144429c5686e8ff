"""WSGI entry point for gunicorn: ``gunicorn marketplace.wsgi:app``."""

import gc

from marketplace.app import create_app

app = create_app()
# The loaded app (hundreds of thousands of objects) lives as long as the process: frozen out of the cyclic
# collector, a full collection no longer walks it (a fifth of a 5,000-record usage batch's time before).
gc.collect()
gc.freeze()
