"""Mock personas: the people development logins use, taken from the mock dataset's named scenarios.

They are the same people the acceptance suites refer to (``citizens-v1``, seed 42), so a developer who logs
in as the ``food_ok`` applicant can walk that scenario through a real app.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from mockdata.generator import scenarios_for
from mockdata.specs import get_spec

SPEC = "citizens-v1"
SEED = 42  # the dataset of the demo orders' suites (examples/suites/*.yaml)

# (persona key, scenario, which person of it). Deterministic, and chosen to cover the awkward cases.
CAST: tuple[tuple[str, str, str], ...] = (
    ("food_ok", "food_ok", "applicant"),
    ("food_not_legal_rep", "food_not_legal_rep", "applicant"),
    ("food_licence_expired", "food_licence_expired", "applicant"),
    ("food_small_premises_hot_food", "food_small_premises_hot_food", "applicant"),
    ("ssc_ok", "ssc_ok", "applicant"),
    ("ssc_not_insured", "ssc_not_insured", "applicant"),
    ("ssc_minor_guardian", "ssc_minor", "guardian"),
    ("awkward_rare_name", "awkward_rare_name", "applicant"),
    ("awkward_minority_name", "awkward_minority_name", "applicant"),
    ("awkward_elderly", "awkward_elderly", "applicant"),
)


@dataclass(frozen=True)
class Persona:
    key: str
    scenario: str
    description: str
    person: dict

    @property
    def resident_id(self) -> str:
        return self.person["resident_id"]

    @property
    def name(self) -> str:
        return self.person["name"]

    @property
    def source(self) -> str:
        return f"mockdata:{SPEC}:{SEED}:{self.scenario}.{'applicant' if self.key == self.scenario else 'guardian'}"


@lru_cache(maxsize=1)
def persona_list() -> tuple[Persona, ...]:
    """The personas, in a fixed order (generated once per process; about 0.1 s)."""
    scenarios = scenarios_for(get_spec(SPEC), SEED)
    return tuple(Persona(key=key, scenario=name, description=scenarios[name]["description"],
                         person=dict(scenarios[name][role])) for key, name, role in CAST)


def persona_get(resident_id: str) -> Persona | None:
    return next((p for p in persona_list() if p.resident_id == resident_id), None)
