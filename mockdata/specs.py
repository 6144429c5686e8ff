"""Named, versioned dataset specs and their registry.

A spec fixes everything but the seed and the size: the simulated date, the proportions of each kind of
record, how the work is cut into chunks. A published spec never changes (suites certified against it
must keep meaning the same data); a change is a new spec with the next version number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from mockdata.vocabulary import PROVINCES, WORDLISTS_FILE, wordlists_sha256


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    version: int
    as_of: date
    description: str
    # Persons are generated in chunks, each from its own random stream, so chunks can be built in
    # parallel and a bigger dataset extends a smaller one.
    chunk_size: int = 10_000
    min_size: int = 100
    max_size: int = 10_000_000
    # Each chunk registers its persons in its own region codes, which keeps resident IDs unique.
    regions_per_chunk: int = 8
    rare_name_rate: float = 0.006
    minority_name_rate: float = 0.008
    compound_surname_rate: float = 0.01
    legal_rep_rate: float = 0.09
    driving_licence_rate: float = 0.45
    vehicle_rate: float = 0.5
    employed_rate: float = 0.72
    not_insured_rate: float = 0.05
    ssc_card_rate: float = 0.8
    expired_rate: float = 0.03
    revoked_rate: float = 0.02
    # The word lists the spec was published with: their file under mockdata/wordlists/ and their hash
    # (vocabulary.wordlists_sha256). A spec never generates from other lists.
    wordlists: str = WORDLISTS_FILE
    wordlists_sha256: str | None = None

    @cached_property
    def region_codes(self) -> tuple[str, ...]:
        """Every region code the spec may use, in a fixed order derived from the spec's name."""
        codes = [f"{p[0]}{city:02d}{county:02d}" for p in PROVINCES for city in range(1, 21) for county in range(1, 21)]
        random.Random(f"{self.name}/regions").shuffle(codes)  # noqa: S311 (reproducible, not secret)
        return tuple(codes)

    def chunk_count(self, size: int) -> int:
        return -(-size // self.chunk_size)

    def check_size(self, size: int) -> None:
        if not self.min_size <= size <= self.max_size:
            raise ValueError(f"size {size} is outside {self.min_size}..{self.max_size} for spec {self.name} "
                             f"(its scenarios need at least {self.min_size} persons)")
        if self.chunk_count(size) * self.regions_per_chunk > len(self.region_codes):
            raise ValueError(f"size {size} needs more region codes than spec {self.name} has")
        self.check_vocabulary()

    def check_vocabulary(self) -> None:
        """Refuse to generate if the word lists differ from those the spec was published with.

        Otherwise an edited list would silently give vendors different data for the same spec and seed.
        """
        if self.wordlists != WORDLISTS_FILE:
            raise RuntimeError(f"spec {self.name} draws from word lists {self.wordlists}, which this release does not "
                               f"carry (it has {WORDLISTS_FILE}); install the platform release that published the spec")
        if self.wordlists_sha256 is not None and wordlists_sha256() != self.wordlists_sha256:
            raise RuntimeError(f"the word lists in mockdata/wordlists/{self.wordlists} differ from those spec {self.name} "
                               f"was published with (sha256 {self.wordlists_sha256[:12]}…, found "
                               f"{wordlists_sha256()[:12]}…); restore the file from the release that published the spec")

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "as_of": self.as_of.isoformat(),
                "description": self.description, "min_size": self.min_size, "max_size": self.max_size}


_REGISTRY: dict[str, DatasetSpec] = {}


def register_spec(spec: DatasetSpec) -> DatasetSpec:
    if spec.name in _REGISTRY and _REGISTRY[spec.name] != spec:
        raise ValueError(f"dataset spec {spec.name} is already registered with other parameters; publish a new version")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> DatasetSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset spec {name!r}; known specs: {', '.join(sorted(_REGISTRY))}") from None


def all_specs() -> list[DatasetSpec]:
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


CITIZENS_V1 = register_spec(DatasetSpec(
    name="citizens-v1",
    version=1,
    as_of=date(2026, 7, 1),
    description="Persons in households, their businesses, e-licences, vehicles and social insurance; "
                "food-licence and social-security-card scenarios.",
    wordlists_sha256="bf7515cb6b6a5d1e5ca77796ef2ef33d1338ef6344d8121f340d8d281de719da",
))
