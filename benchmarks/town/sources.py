"""The town's records as four agencies export them, with a noise model, and the ground truth.

Sources (each its own columns and formats):
  census    one return line per person (duplicate-free): forename, middle names, surname, sex,
            date of birth YYYY-MM-DD, relationship to head, address, town, postcode
  survey    a sample of residents: "SURNAME, Forename" in one column (often an initial),
            date of birth DD/MM/YYYY (often blank), address, postcode
  benefits  applications, some people several times over the years: forename, surname,
            date of birth "07 Mar 1985", address in two lines (flat apart), postcode
  tax       one form per adult taxpayer: title, first name or initials (often blank), surname,
            one upper-case address line, postcode; no date of birth

Noise (`level` multiplies every base rate): typos, OCR confusions, phonetic
spellings, nicknames, blank fields, wrong / transposed digits and day-month
swaps in dates of birth, swapped first and last names, abbreviated street
types, a missing flat number, house-number typos, postcode typos.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
import string
import unicodedata
from pathlib import Path

from benchmarks.town.names import NICKNAMES, STREET_TYPES, TOWN
from benchmarks.town.population import CENSUS_DAY, Address, Person

# Base rates (noise level 1), per field of a record.
RATES = {
    "typo": 0.02, "ocr": 0.006, "phonetic": 0.012, "nickname": 0.04, "blank_first": 0.01, "blank_last": 0.003,
    "blank_dob": 0.02, "dob_digit": 0.008, "dob_transpose": 0.004, "dob_day_month": 0.004, "swap_names": 0.004,
    "abbreviate": 0.15, "drop_flat": 0.08, "house_typo": 0.01, "postcode_typo": 0.01, "blank_address": 0.01,
    "blank_postcode": 0.02,
}
# Per source, rates that differ from the base: how its forms are filled in (multiplied by the level too).
SOURCE_RATES = {
    "census": {"nickname": 0.01, "blank_dob": 0.01, "abbreviate": 0.05},
    "survey": {"nickname": 0.10, "blank_dob": 0.30, "abbreviate": 0.30, "blank_postcode": 0.08},
    "benefits": {"nickname": 0.05, "blank_dob": 0.08},
    "tax": {"nickname": 0.06, "ocr": 0.03, "abbreviate": 0.40, "drop_flat": 0.15},
}
OCR = [("O", "0"), ("o", "0"), ("l", "1"), ("I", "1"), ("S", "5"), ("s", "5"), ("B", "8"), ("rn", "m"), ("m", "rn"),
       ("cl", "d"), ("e", "c"), ("0", "O"), ("1", "l"), ("5", "S")]
PHONETIC = [(r"ph", "f"), (r"^f", "ph"), (r"ck", "k"), (r"c(?=[aou])", "k"), (r"k", "c"), (r"y$", "ie"), (r"ie$", "y"),
            (r"ey$", "y"), (r"ee", "ea"), (r"ou", "ow"), (r"(?<=[aeiou])s(?=[aeiou])", "z"), (r"z", "s"),
            (r"([bdfglmnprt])\1", r"\1"), (r"(?<=[aeiou])([lnrt])(?=[aeiouy])", r"\1\1"), (r"ai", "ay"), (r"th", "t"),
            (r"^Mc", "Mac"), (r"^Mac", "Mc"), (r"son$", "sen"), (r"ei", "ie"), (r"i(?=[^aeiou]$)", "y"), (r"aa", "a")]
ABBREVIATION = {full: forms for full, forms in STREET_TYPES.items()}


class Noise:
    """Corrupts values at `level` times the base rates of a source."""

    def __init__(self, rng: random.Random, level: float, source: str):
        self.rng, self.level = rng, level
        self.rates = {**RATES, **SOURCE_RATES[source]}

    def hit(self, kind: str) -> bool:
        return self.rng.random() < min(0.95, self.rates[kind] * self.level)

    def name(self, value: str) -> str:
        if value and self.hit("phonetic"):
            value = phonetic(self.rng, value)
        if value and self.hit("typo"):
            value = typo(self.rng, value)
        if value and self.hit("ocr"):
            value = ocr(self.rng, value)
        return value

    def first_name(self, value: str) -> str:
        if self.hit("nickname") and value in NICKNAMES:
            value = self.rng.choice(NICKNAMES[value])
        return "" if self.hit("blank_first") else self.name(value)

    def last_name(self, value: str) -> str:
        return "" if self.hit("blank_last") else self.name(value)

    def dob(self, value: dt.date) -> dt.date | None:
        if self.hit("blank_dob"):
            return None
        if self.hit("dob_digit"):
            value = wrong_digit(self.rng, value)
        if self.hit("dob_transpose"):
            value = transposed_digits(self.rng, value)
        if self.hit("dob_day_month") and value.day <= 12 and value.day != value.month:
            value = value.replace(month=value.day, day=value.month)
        return value

    def address(self, address: Address) -> tuple[str, str, str]:
        """(flat, house number and street, postcode), each possibly corrupted or blank."""
        if self.hit("blank_address"):
            street = ""
        else:
            number = str(address.number)
            if self.hit("house_typo"):
                number = typo_digits(self.rng, number)
            street_name, street_type = address.street.rsplit(" ", 1)
            if self.hit("abbreviate"):
                street_type = self.rng.choice(ABBREVIATION[street_type])
            if self.hit("typo"):
                street_name = typo(self.rng, street_name)
            street = f"{number} {street_name} {street_type}"
        flat = "" if address.flat is None or self.hit("drop_flat") else str(address.flat)
        postcode = address.postcode
        if self.hit("postcode_typo"):
            postcode = typo_postcode(self.rng, postcode)
        if self.hit("blank_postcode"):
            postcode = ""
        return flat, street, postcode


def typo(rng: random.Random, value: str) -> str:
    i = rng.randrange(len(value))
    letter = rng.choice(string.ascii_lowercase)
    edit = rng.choice(["insert", "delete", "substitute", "transpose"])
    if edit == "insert":
        return value[:i] + letter + value[i:]
    if edit == "delete" and len(value) > 2:
        return value[:i] + value[i + 1:]
    if edit == "transpose" and i < len(value) - 1:
        return value[:i] + value[i + 1] + value[i] + value[i + 2:]
    return value[:i] + (letter.upper() if value[i].isupper() else letter) + value[i + 1:]


def ocr(rng: random.Random, value: str) -> str:
    options = [(a, b) for a, b in OCR if a in value]
    if not options:
        return value
    a, b = rng.choice(options)
    at = rng.choice([m.start() for m in re.finditer(re.escape(a), value)])
    return value[:at] + b + value[at + len(a):]


def phonetic(rng: random.Random, value: str) -> str:
    options = [(p, r) for p, r in PHONETIC if re.search(p, value)]
    if not options:
        return value
    pattern, replacement = rng.choice(options)
    return re.sub(pattern, replacement, value, count=1)


def wrong_digit(rng: random.Random, value: dt.date) -> dt.date:
    """One digit of the day or of the year's last two written wrong (kept a real date)."""
    for _ in range(10):
        if rng.random() < 0.5:
            day = value.day + rng.choice([-10, 10, -1, 1, -2, 2])
            candidate = _date(value.year, value.month, day)
        else:
            candidate = _date(value.year + rng.choice([-10, 10, -1, 1, -2, 2]), value.month, value.day)
        if candidate and candidate <= CENSUS_DAY:
            return candidate
    return value


def transposed_digits(rng: random.Random, value: dt.date) -> dt.date:
    """Two digits of the day or of the year written the other way round (12 -> 21, 1985 -> 1958)."""
    if rng.random() < 0.5:
        day = int(f"{value.day:02d}"[::-1])
        candidate = _date(value.year, value.month, day)
    else:
        year = f"{value.year}"
        candidate = _date(int(year[:2] + year[3] + year[2]), value.month, value.day)
    return candidate if candidate and dt.date(1900, 1, 1) <= candidate <= CENSUS_DAY else value


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def typo_digits(rng: random.Random, number: str) -> str:
    if len(number) > 1 and rng.random() < 0.5:
        return number[::-1]
    return str(max(1, int(number) + rng.choice([-1, 1, 10, -10, 2])))


def typo_postcode(rng: random.Random, postcode: str) -> str:
    chars = list(postcode)
    i = rng.choice([k for k, c in enumerate(chars) if c != " "])
    chars[i] = rng.choice(string.digits if chars[i].isdigit() else "ABDEFGHJLNPQRSTUWXYZ")
    return "".join(chars)


def ascii_fold(value: str) -> str:
    return unicodedata.normalize("NFKD", value.replace("ł", "l").replace("Ł", "L")).encode("ascii", "ignore").decode()


def written_last_name(rng: random.Random, person: Person) -> str:
    """The surname as written, with the generational suffix only sometimes (Jr / Jnr)."""
    if person.suffix and rng.random() < 0.4:
        return f"{person.last_name} {person.suffix if rng.random() < 0.7 else {'Jr': 'Jnr', 'Sr': 'Snr'}[person.suffix]}"
    return person.last_name


def names_of(rng: random.Random, noise: Noise, person: Person) -> tuple[str, str]:
    first, last = noise.first_name(person.first_name), noise.last_name(written_last_name(rng, person))
    if noise.hit("swap_names"):
        first, last = last, first
    return first, last


def adult(person: Person, day: dt.date) -> bool:
    return (day - person.dob).days >= 18 * 365


# ---- the four exports ---------------------------------------------------------------------------------------

def census_rows(rng: random.Random, people: list[Person], level: float):
    noise = Noise(rng, level, "census")
    lines: dict[str, int] = {}
    for person in people:
        if rng.random() < 0.02:  # not enumerated
            continue
        lines[person.household_id] = lines.get(person.household_id, 0) + 1
        first, last = names_of(rng, noise, person)
        dob = noise.dob(person.dob)
        flat, street, postcode = noise.address(person.address_on(CENSUS_DAY))
        yield person, {
            "return_id": f"C21{person.household_id[1:]}", "person_no": lines[person.household_id],
            "forename": first, "middle_names": person.middle_name, "surname": last, "sex": person.sex.upper(),
            "date_of_birth": dob.isoformat() if dob else "", "relationship_to_head": person.relationship.title(),
            "address": f"Flat {flat}, {street}" if flat and street else street, "town": TOWN, "postcode": postcode,
        }


def survey_rows(rng: random.Random, people: list[Person], level: float):
    noise = Noise(rng, level, "survey")
    day = dt.date(2022, 5, 1)
    sample = [p for p in people if (day - p.dob).days >= 16 * 365 and rng.random() < 0.30]
    for number, person in enumerate(sample, 1):
        first, last = names_of(rng, noise, person)
        first = ascii_fold(first) if rng.random() < 0.5 else first
        if first and rng.random() < 0.25:
            first = f"{first[0]}."
        dob = noise.dob(person.dob)
        flat, street, postcode = noise.address(person.address_on(day))
        address = f"{flat}/{street}" if flat and street else street
        yield person, {
            "RespID": f"S-{number:05d}", "respondent": f"{last.upper()}, {first}" if first else last.upper(),
            "dob": dob.strftime("%d/%m/%Y") if dob else "",
            "home_address": address.lower() if rng.random() < 0.3 else address, "postcode": postcode,
        }


def benefit_rows(rng: random.Random, people: list[Person], level: float):
    noise = Noise(rng, level, "benefits")
    number = 0
    for person in people:
        if rng.random() >= 0.28:
            continue
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            day = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randint(0, 1094))
            if not adult(person, day):
                continue
            number += 1
            first, last = names_of(rng, noise, person)
            dob = noise.dob(person.dob)
            flat, street, postcode = noise.address(person.address_on(day))
            yield person, {
                "ApplicationNo": f"BA{number:06d}", "ClaimantForename": ascii_fold(first), "ClaimantSurname": ascii_fold(last),
                "ClaimantDOB": dob.strftime("%d %b %Y") if dob else "", "AddrLine1": street,
                "AddrLine2": f"Flat {flat}" if flat else "", "PostCode": postcode, "DateReceived": day.isoformat(),
            }


def tax_rows(rng: random.Random, people: list[Person], level: float):
    noise = Noise(rng, level, "tax")
    day = dt.date(2023, 4, 5)
    for number, person in enumerate(p for p in people if adult(p, day) and rng.random() < 0.8):
        first, last = names_of(rng, noise, person)
        form = rng.random()
        if form < 0.30 and first:  # initials only
            first = first[0] + (f" {person.middle_name[0]}" if person.middle_name and rng.random() < 0.5 else "")
        elif form < 0.50:  # no first name at all
            first = ""
        flat, street, postcode = noise.address(person.address_on(day))
        line = f"{street}, FLAT {flat}" if flat and street else street
        title = {"m": "MR", "f": rng.choice(["MRS", "MS", "MISS"])}[person.sex] if rng.random() < 0.8 else ""
        yield person, {
            "tax_ref": f"TX{700000 + number * 7}", "title": title, "first_name_or_initials": ascii_fold(first).upper(),
            "last_name": ascii_fold(last).upper(), "address_line": line.upper(), "post_code": postcode,
        }


SOURCES = {"census": census_rows, "survey": survey_rows, "benefits": benefit_rows, "tax": tax_rows}
RECORD_ID = {"census": lambda r: f"{r['return_id']}-{r['person_no']}", "survey": lambda r: r["RespID"],
             "benefits": lambda r: r["ApplicationNo"], "tax": lambda r: r["tax_ref"]}


def write_sources(people: list[Person], landing: Path, workspace: Path, level: float, seed: int) -> dict[str, int]:
    """The four exports under landing/<source>/, truth.csv, truth_households.csv and town_people.csv
    (every fact of each person, for the failure analysis) in `workspace`. Returns records per source."""
    truth, counts = [], {}
    for index, (source, rows) in enumerate(SOURCES.items()):
        rng = random.Random(seed * 1000 + index)
        records = list(rows(rng, people, level))
        folder = landing / source
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{source}.csv", "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(records[0][1]))
            writer.writeheader()
            writer.writerows(row for _, row in records)
        truth += [(source, RECORD_ID[source](row), person.person_id) for person, row in records]
        counts[source] = len(records)
    write_csv(workspace / "truth.csv", ["source", "source_record_id", "person_id"], truth)
    write_csv(workspace / "truth_households.csv",
              ["person_id", "household_id", "first_name", "last_name", "twin", "suffix", "namesake"],
              [(p.person_id, p.household_id, p.first_name, p.last_name, p.twin, p.suffix, p.namesake) for p in people])
    write_csv(workspace / "town_people.csv",
              ["person_id", "household_id", "relationship", "first_name", "last_name", "suffix", "sex", "dob", "twin",
               "namesake", "address", "moved_to"],
              [(p.person_id, p.household_id, p.relationship, p.first_name, p.last_name, p.suffix, p.sex, p.dob.isoformat(),
                p.twin, p.namesake, _address_key(p.address), _address_key(p.moved_to) if p.moved_to else "")
               for p in people])
    return counts


def _address_key(address: Address) -> str:
    return f"{address.flat or ''}/{address.number} {address.street} {address.postcode}"


def write_csv(path: Path, header: list[str], rows: list) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
