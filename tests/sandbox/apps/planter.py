"""Plants app.sock as a link to the host's Docker socket, hoping the harness connects through it."""
import os
import time

os.symlink("/var/run/docker.sock", os.environ["GOVAPP_SOCKET"])
while True:
    time.sleep(1)
