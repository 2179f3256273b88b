"""The people of the town, in households, as they truly are (before any form is filled in).

Households: single people, couples (a spouse keeps or hyphenates a surname),
families with children (twins ~2.5% of births, sometimes with names alike;
a son named after his father, Jr/Sr), single parents, three generations
(a grandchild may carry a grandparent's name), shared houses of lodgers
(each their own household, one address) and flats of one building. Some
households move between source dates; some grown-up children leave home.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from benchmarks.town.names import FIRST_NAMES, ORIGINS, SIMILAR_TWIN_NAMES, STREET_TYPES, STREETS, SURNAMES

CENSUS_DAY = dt.date(2021, 3, 21)


@dataclass(frozen=True)
class Address:
    number: int
    street: str  # "Mill Road"
    postcode: str
    flat: int | None = None


@dataclass
class Person:
    person_id: str
    household_id: str
    first_name: str
    last_name: str
    sex: str
    dob: dt.date
    origin: str
    relationship: str  # to the head of household: head, spouse, child, parent, grandchild, lodger
    address: Address
    middle_name: str = ""
    suffix: str = ""  # Jr / Sr
    twin: bool = False
    namesake: bool = False  # another person of the town has the same first and last name
    moved_to: Address | None = None  # the address from moved_on
    moved_on: dt.date | None = None

    def address_on(self, day: dt.date) -> Address:
        return self.moved_to if self.moved_to and day >= self.moved_on else self.address


def zipf_pick(rng: random.Random, items: list[str], exponent: float = 1.0) -> str:
    weights = [1 / (rank + 1) ** exponent for rank in range(len(items))]
    return rng.choices(items, weights)[0]


@dataclass
class Town:
    rng: random.Random
    people: list[Person] = field(default_factory=list)
    households: int = 0
    used_addresses: set = field(default_factory=set)
    streets: list[tuple[str, str]] = field(default_factory=list)  # (street, postcode prefix)

    def __post_init__(self):
        types = list(STREET_TYPES)
        for i, name in enumerate(STREETS):
            district = f"MB{1 + i % 7}"
            self.streets.append((f"{name} {self.rng.choice(types)}", f"{district} {self.rng.randint(1, 9)}"))

    # --- addresses -------------------------------------------------------------------------------------
    def new_address(self, flat_ok: bool = True) -> Address:
        while True:
            street, prefix = self.rng.choice(self.streets)
            number = self.rng.randint(1, 160)
            flat = self.rng.randint(1, 6) if flat_ok and number % 5 == 0 else None  # every fifth number is a block of flats
            postcode = f"{prefix}{'ABDEFGHJLNPQRSTUWXYZ'[number // 8 % 20]}{'ABDEFGHJLNPQRSTUWXYZ'[len(street) % 20]}"
            address = Address(number, street, postcode, flat)
            if address not in self.used_addresses:
                self.used_addresses.add(address)
                return address

    # --- people ------------------------------------------------------------------------------------------
    def first_name(self, origin: str, sex: str) -> str:
        return zipf_pick(self.rng, FIRST_NAMES[origin][sex].split(), 0.5)

    def surname(self, origin: str) -> str:
        return zipf_pick(self.rng, SURNAMES[origin].split(), 0.5)

    def birth(self, age_low: int, age_high: int) -> dt.date:
        return CENSUS_DAY - dt.timedelta(days=self.rng.randint(age_low * 365 + 1, age_high * 365 + 300))

    def add(self, household: str, first: str, last: str, sex: str, dob: dt.date, origin: str, relationship: str,
            address: Address, **extra) -> Person:
        middle = self.first_name(origin, sex) if self.rng.random() < 0.35 else ""
        person = Person(f"P{len(self.people) + 1:06d}", household, first, last, sex, dob, origin, relationship, address,
                        middle, **extra)
        self.people.append(person)
        return person

    def new_household(self) -> str:
        self.households += 1
        return f"H{self.households:05d}"

    def origin(self) -> str:
        return self.rng.choices(list(ORIGINS), list(ORIGINS.values()))[0]

    # --- households --------------------------------------------------------------------------------------
    def adult(self, household: str, address: Address, relationship: str, origin: str | None = None,
              age: tuple[int, int] = (20, 88), sex: str | None = None, last: str | None = None) -> Person:
        origin = origin or self.origin()
        sex = sex or self.rng.choice("mf")
        return self.add(household, self.first_name(origin, sex), last or self.surname(origin), sex, self.birth(*age), origin,
                        relationship, address)

    def couple(self, household: str, address: Address, age: tuple[int, int] = (22, 85)) -> tuple[Person, Person]:
        head = self.adult(household, address, "head", age=age, sex="m" if self.rng.random() < 0.6 else "f")
        origin = head.origin if self.rng.random() < 0.85 else self.origin()
        sex = head.sex if self.rng.random() < 0.05 else ("f" if head.sex == "m" else "m")
        own = self.surname(origin)
        choice = self.rng.random()
        if own == head.last_name or choice < 0.6:
            last = head.last_name
        else:
            last = own if choice < 0.88 else f"{own}-{head.last_name}"
        age_gap = int(self.rng.gauss(0, 3.5))
        dob = head.dob + dt.timedelta(days=365 * age_gap + self.rng.randint(-180, 180))
        spouse = self.add(household, self.first_name(origin, sex), last, sex, min(dob, CENSUS_DAY - dt.timedelta(days=18 * 365)),
                          origin, "spouse", address)
        return head, spouse

    def children(self, household: str, address: Address, parents: list[Person], surname: str) -> None:
        mother_age = min((CENSUS_DAY - p.dob).days // 365 for p in parents)
        if mother_age < 19:
            return
        father = next((p for p in parents if p.sex == "m"), None)
        for _ in range(self.rng.choice([1, 1, 2, 2, 2, 3, 3, 4])):
            age = self.rng.randint(0, min(mother_age - 18, 30))
            dob = self.birth(age, age)
            twins = self.rng.random() < 0.025
            births = self.twin_names(parents[0].origin) if twins else [(None, self.rng.choice("mf"))]
            for name, sex in births:
                name = name or self.first_name(parents[0].origin, sex)
                suffix = ""
                if not twins and sex == "m" and father and not father.suffix and self.rng.random() < 0.06:
                    name, suffix, father.suffix = father.first_name, "Jr", "Sr"
                self.add(household, name, surname, sex, dob, parents[0].origin, "child", address, twin=twins, suffix=suffix)

    def twin_names(self, origin: str) -> list[tuple[str | None, str]]:
        if self.rng.random() < 0.35:
            a, b, sex_a, sex_b = self.rng.choice(SIMILAR_TWIN_NAMES)
            return [(a, sex_a), (b, sex_b)]
        sexes = [self.rng.choice("mf"), self.rng.choice("mf")]
        names = [self.first_name(origin, s) for s in sexes]
        while names[1] == names[0]:
            names[1] = self.first_name(origin, sexes[1])
        return list(zip(names, sexes))

    def household(self) -> None:
        kind = self.rng.choices(
            ["single", "couple", "family", "single_parent", "three_generations", "lodgers", "couple_and_lodger"],
            [0.20, 0.22, 0.30, 0.08, 0.07, 0.08, 0.05],
        )[0]
        household, address = self.new_household(), self.new_address()
        members_before = len(self.people)
        if kind == "single":
            self.adult(household, address, "head")
        elif kind in ("couple", "couple_and_lodger"):
            self.couple(household, address)
            if kind == "couple_and_lodger":
                self.adult(self.new_household(), address, "lodger", age=(19, 60))
        elif kind == "family":
            head, spouse = self.couple(household, address, age=(24, 58))
            kept_own = spouse.last_name != head.last_name and "-" not in spouse.last_name
            surname = f"{head.last_name}-{spouse.last_name}" if kept_own and self.rng.random() < 0.3 else head.last_name
            self.children(household, address, [head, spouse], surname)
        elif kind == "single_parent":
            head = self.adult(household, address, "head", age=(20, 55), sex="f" if self.rng.random() < 0.85 else "m")
            self.children(household, address, [head], head.last_name)
        elif kind == "three_generations":
            head, spouse = self.couple(household, address, age=(30, 55))
            sex = "m" if self.rng.random() < 0.4 else "f"
            elder = self.add(household, self.first_name(head.origin, sex), head.last_name, sex,
                             head.dob - dt.timedelta(days=365 * self.rng.randint(22, 38)), head.origin, "parent", address)
            self.children(household, address, [head, spouse], head.last_name)
            grandchildren = [p for p in self.people[members_before:] if p.relationship == "child" and p.sex == elder.sex]
            if grandchildren and self.rng.random() < 0.3:
                grandchildren[0].first_name = elder.first_name  # named after a grandparent: no suffix
        elif kind == "lodgers":
            for _ in range(self.rng.randint(2, 4)):
                self.adult(self.new_household(), address, "lodger", age=(19, 45))
        self.move(household, members_before)

    def move(self, household: str, first_member: int) -> None:
        """A household moving after the census, or a grown-up child leaving home."""
        members = self.people[first_member:]
        if self.rng.random() < 0.10:
            to, on = self.new_address(), CENSUS_DAY + dt.timedelta(days=self.rng.randint(60, 900))
            for person in members:
                person.moved_to, person.moved_on = to, on
        for person in members:
            if person.relationship == "child" and not person.moved_to and (CENSUS_DAY - person.dob).days > 18 * 365 \
                    and self.rng.random() < 0.3:
                person.moved_to = self.new_address()
                person.moved_on = CENSUS_DAY + dt.timedelta(days=self.rng.randint(30, 900))

    def strangers_of_one_name(self, share: float = 0.01) -> None:
        """A few people take another person's common name (other household, other date of birth)."""
        adults = [p for p in self.people if p.relationship in ("head", "lodger")]
        for person in self.rng.sample(adults, int(len(adults) * share)):
            other = self.rng.choice(self.people)
            if other.household_id != person.household_id and other.sex == person.sex:
                person.first_name, person.last_name = other.first_name, other.last_name


def build_town(people: int, seed: int) -> list[Person]:
    town = Town(random.Random(seed))
    while len(town.people) < people:
        town.household()
    town.strangers_of_one_name()
    names: dict[tuple[str, str], int] = {}
    for person in town.people:
        key = (person.first_name.lower(), person.last_name.lower())
        names[key] = names.get(key, 0) + 1
    for person in town.people:
        person.namesake = names[(person.first_name.lower(), person.last_name.lower())] > 1
    return town.people
