"""A sandbox worker in a container: which of its paths the host's dockerd can bind-mount into an app's sandbox."""

from __future__ import annotations

from pathlib import Path

from sandbox.backends.docker import host_path_problem

RUNS = "/var/lib/govmarket-sandbox/runs"


def mount(kind: str, source: str, destination: str) -> dict:
    return {"Type": kind, "Source": source, "Destination": destination}


def test_only_a_same_path_bind_mount_is_visible_to_the_host():
    same = [mount("volume", "/var/lib/docker/volumes/bundles/_data", "/var/lib/govmarket"), mount("bind", RUNS, RUNS)]
    assert host_path_problem(Path(RUNS) / "123.456-r1a1" / "app", same) is None
    assert host_path_problem(Path(RUNS), same) is None

    moved = [mount("bind", "/srv/runs", RUNS)]
    assert "not a bind mount of the same host path" in host_path_problem(Path(RUNS) / "x", moved)
    volume = [mount("volume", "/var/lib/docker/volumes/runs/_data", RUNS)]
    assert "volume mount" in host_path_problem(Path(RUNS) / "x", volume)
    assert "own filesystem" in host_path_problem(Path("/run/govmarket-sandbox/x"), same)
    # A prefix of the name is not a parent folder.
    assert "own filesystem" in host_path_problem(Path(RUNS + "-other") / "x", same)


def test_the_deepest_mount_decides():
    mounts = [mount("bind", "/var/lib", "/var/lib"), mount("volume", "/var/lib/docker/volumes/v/_data", RUNS)]
    assert "volume mount" in host_path_problem(Path(RUNS) / "x", mounts)
    assert host_path_problem(Path("/var/lib/other"), mounts) is None


class _Images:
    def __init__(self, labels):
        self.labels = labels

    def get(self, tag):
        import docker.errors

        if self.labels is None:
            raise docker.errors.ImageNotFound(tag)
        return type("Image", (), {"labels": self.labels})()


def _client(labels):
    return type("Client", (), {"images": _Images(labels)})()


def test_runtime_image_by_tag_needs_its_labels_and_a_matching_hash():
    import pytest

    from core.errors import ServiceUnavailable
    from sandbox.runtime import HASH_LABEL, PYTHON_LABEL, docker_image

    digest = "3f0c696319068c4c" + "a" * 48
    image = docker_image("govmarket-runtime:3f0c696319068c4c", _client({HASH_LABEL: digest, PYTHON_LABEL: "3.11.2"}))
    assert (image.hash, image.python, image.rootfs, image.docker_tag) == (
        digest, "3.11.2", None, "govmarket-runtime:3f0c696319068c4c")
    for tag, labels, message in [
            ("govmarket-runtime:latest", {}, "16 hex digits"),
            ("other:3f0c696319068c4c", {}, "must be govmarket-runtime"),
            ("govmarket-runtime:3f0c696319068c4c", None, "is not in Docker"),
            ("govmarket-runtime:3f0c696319068c4c", {}, "has no"),
            ("govmarket-runtime:0000000000000000", {HASH_LABEL: digest, PYTHON_LABEL: "3.11.2"}, "does not match")]:
        with pytest.raises(ServiceUnavailable, match=message):
            docker_image(tag, _client(labels))
