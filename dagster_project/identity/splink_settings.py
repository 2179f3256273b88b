"""The Splink model specification, chosen from the fields the data actually has.

Each comparison and rule declares the prepared columns it needs; only those
whose fields are populated (share of non-null >= min_fill) are used, so the
same code models any subset of the canonical fields.

Comparisons are written as Splink comparison dicts (explicit SQL, readable
labels for explanations). Columns are those of the prepared table
(splink_prepare): `*_l` / `*_r` are the two records of a pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from splink import SettingsCreator, block_on

DEFAULT_MIN_FILL = 0.01


def _level(sql: str, label: str, **options) -> dict:
    return {"sql_condition": sql, "label_for_charts": label, **options}


def _null(*columns: str) -> dict:
    """Missing on either side; contributes no evidence (weight 0)."""
    sql = " AND ".join(f"({c}_l IS NULL OR {c}_r IS NULL)" for c in columns)
    return _level(sql, "missing", is_null_level=True)


ELSE = _level("ELSE", "different")


def within_edits(a: str, b: str, edits: int) -> str:
    """SQL: `levenshtein(a, b) <= edits`, with the length test first that every such pair
    passes: the edit distance is computed only for strings of about the same length."""
    return f"(abs(length({a}) - length({b})) <= {edits} AND levenshtein({a}, {b}) <= {edits})"


def within_one_edit(a: str, b: str) -> str:
    """SQL: `levenshtein(a, b) <= 1` for long strings (emails, phones), with cheap tests first that
    every such pair passes: the lengths differ by at most one, and one edit leaves equal either
    the first half of the shorter length (the edit is in the second half) or the rest after the
    half and one more character (it is in the first). Only pairs passing both pay for the edit
    distance: on emails at 1,000,000 people, half the time of the level alone."""
    shorter = f"least(length({a}), length({b}))"
    half, rest = f"{shorter} // 2", f"greatest({shorter} - {shorter} // 2 - 1, 0)"
    return (f"(abs(length({a}) - length({b})) <= 1 AND (left({a}, {half}) = left({b}, {half})"
            f" OR right({a}, {rest}) = right({b}, {rest})) AND levenshtein({a}, {b}) <= 1)")


def _jaro_winkler(column: str, threshold: float) -> str:
    return f"jaro_winkler_similarity({column}_l, {column}_r) >= {threshold}"


def _alike_as_first_names(a: str, b: str) -> str:
    """Two name columns alike as first names: a typo, a nickname or an initial apart.
    `a` / `b` are first_name_X or last_name_X columns; each has a _canonical form."""
    a_canonical, b_canonical = (c.replace("_norm_", "_canonical_") for c in (a, b))
    # levenshtein: one letter wrong in a short name (jacob / jscob) scores under 0.92.
    return (f"(jaro_winkler_similarity({a}, {b}) >= 0.92 OR {a_canonical} = {b_canonical}"
            f" OR levenshtein({a}, {b}) <= 1 OR starts_with({a}, {b}) OR starts_with({b}, {a}))")


def _swapped() -> str:
    """First and last names written the other way round (a form filled in
    surname first), either side possibly mistyped, shortened to a nickname or
    an initial: "whiite harriet" / "harriet white", "redwell benjamin" / "benny
    redwell". Which record is swapped is unknown, so either cross pair may be
    the first names."""
    cross_a, cross_b = ("first_name_norm_l", "last_name_norm_r"), ("last_name_norm_l", "first_name_norm_r")
    surnames = lambda a, b: f"jaro_winkler_similarity({a}, {b}) >= 0.92"  # noqa: E731
    return (f"(({_alike_as_first_names(*cross_a)} AND {surnames(*cross_b)})"
            f" OR ({surnames(*cross_a)} AND {_alike_as_first_names(*cross_b)}))")


SWAPPED = _swapped()

# A nickname of the other name, whichever of its full names the nickname list
# gives it: eddie / edmund (eddie's canonical is edward), harry / harold.
NICKNAME_OF_OTHER = (
    "list_contains(first_name_full_names_l, first_name_norm_r) OR list_contains(first_name_full_names_r, first_name_norm_l)"
)

# Two letters wrong in a long first name that is not a real name on both sides:
# scanned or hand-copied forms (ianicw / janice, gebrvieve / genevieve). Two real
# names (the nickname list) that close are two people: joseph / josiah.
# `left` and `right` name a record's columns: "{}_l" in Splink, "l.{}" in the household pass.
def first_name_typo(left: str = "{}_l", right: str = "{}_r") -> str:
    name_l, name_r = left.format("first_name_norm"), right.format("first_name_norm")
    return (f"levenshtein({name_l}, {name_r}) <= 2 AND least(length({name_l}), length({name_r})) >= 6"
            f" AND NOT (coalesce({left.format('first_name_listed')}, false) AND coalesce({right.format('first_name_listed')}, false))")


FIRST_NAME_TYPO = first_name_typo()


@dataclass
class Comparison:
    name: str
    levels: list[dict]
    columns: set[str]  # prepared columns used (a training rule on any of them cannot estimate this)

    def as_dict(self) -> dict:
        return {"output_column_name": self.name, "comparison_levels": self.levels}


def first_name_comparison(has_last: bool) -> Comparison:
    levels = [
        _null("first_name_norm"),
        # Term frequencies: "john" agreeing is weaker evidence than "siobhan".
        _level("first_name_norm_l = first_name_norm_r", "exact match", tf_adjustment_column="first_name_norm"),
        _level("first_name_canonical_l = first_name_canonical_r", "nickname match"),
        _level(NICKNAME_OF_OTHER, "nickname of another of its full names"),
    ]
    if has_last:
        levels.append(_level(SWAPPED, "first and last names swapped"))
    levels += [
        _level(_jaro_winkler("first_name_norm", 0.92), "very similar (Jaro-Winkler >= 0.92)"),
        # Initials and short forms not in the nickname list: "j" / "john", "sam" / "samantha".
        _level(
            "starts_with(first_name_norm_l, first_name_norm_r) OR starts_with(first_name_norm_r, first_name_norm_l)",
            "initial or short form",
        ),
        # Spelt as it sounds: catherine / kathryn, geoffrey / jeffrey (identity/phonetic.py); after
        # initials, which share a key with their name (sue / su) and are stronger evidence.
        _level("first_name_phonetic_l = first_name_phonetic_r", "sounds alike"),
        # Not lower: charlie / claire (0.80) and alan / alexandra (0.85) are households, not typos.
        _level(_jaro_winkler("first_name_norm", 0.88), "similar (Jaro-Winkler >= 0.88)"),
        _level(FIRST_NAME_TYPO, "two letters wrong in a long name"),
        ELSE,
    ]
    columns = {"first_name_norm", "first_name_canonical", "first_name_phonetic", "first_name_listed", "first_name_full_names"} | ({"last_name_norm", "last_name_canonical"} if has_last else set())
    return Comparison("first_name", levels, columns)


def last_name_comparison(has_first: bool) -> Comparison:
    null = _null("last_name_norm")
    if has_first:
        # A swapped pair is scored once, by first_name's "swapped" level: here it
        # counts as no evidence rather than a second agreement (or a disagreement).
        null = _level(f"({null['sql_condition']}) OR ({SWAPPED})", "missing, or names swapped", is_null_level=True)
    levels = [
        null,
        _level("last_name_norm_l = last_name_norm_r", "exact match", tf_adjustment_column="last_name_norm"),
        _level(_jaro_winkler("last_name_norm", 0.92), "very similar (Jaro-Winkler >= 0.92)"),
        # Double-barrelled or partly recorded surnames: "smith jones" / "jones".
        _level(
            "contains(' ' || last_name_norm_l || ' ', ' ' || last_name_norm_r || ' ') "
            "OR contains(' ' || last_name_norm_r || ' ', ' ' || last_name_norm_l || ' ')",
            "one contains the other",
        ),
        _level(_jaro_winkler("last_name_norm", 0.8), "similar (Jaro-Winkler >= 0.8)"),
        # Spelt as it sounds, yet not similar. Last: a rare level whose m EM may not
        # learn (then weighted as "different"), it must not take pairs from "similar".
        _level("last_name_phonetic_l = last_name_phonetic_r", "sounds alike"),
        ELSE,
    ]
    columns = {"last_name_norm", "last_name_phonetic"} | ({"first_name_norm", "first_name_canonical", "last_name_canonical"} if has_first else set())
    return Comparison("last_name", levels, columns)


def dates_one_digit_apart(dob_l: str, dob_r: str) -> str:
    """SQL: the two dates, as text, one digit apart (levenshtein <= 1). Every such pair has two
    of year, month and day equal (a digit belongs to one of them), a test three times cheaper
    than the edit distance that most pairs of blocked records, born on other days, then skip.
    levenshtein, not damerau_levenshtein: the latter is ~10x slower in DuckDB, and the common
    transposition (day <-> month) has its own level."""
    parts_equal = [f"{part}({dob_l}) = {part}({dob_r})" for part in ("year", "month", "day")]
    two_equal = f"({parts_equal[0]} AND ({parts_equal[1]} OR {parts_equal[2]}) OR {parts_equal[1]} AND {parts_equal[2]})"
    return f"({two_equal} AND levenshtein(cast({dob_l} as varchar), cast({dob_r} as varchar)) <= 1)"


def date_of_birth_comparison() -> Comparison:
    dob_l, dob_r = "date_of_birth_l", "date_of_birth_r"
    levels = [
        _null("date_of_birth"),
        # Term frequencies also weaken placeholder dates such as 1900-01-01.
        _level(f"{dob_l} = {dob_r}", "exact match", tf_adjustment_column="date_of_birth"),
        _level(
            f"year({dob_l}) = year({dob_r}) AND month({dob_l}) = day({dob_r}) AND day({dob_l}) = month({dob_r})",
            "day and month swapped",
        ),
        _level(dates_one_digit_apart(dob_l, dob_r), "one digit different"),
        _level(f"year({dob_l}) = year({dob_r})", "same year"),
        ELSE,
    ]
    return Comparison("date_of_birth", levels, {"date_of_birth"})


def sex_comparison() -> Comparison:
    """Sex, where sources give it (a census, a title on a form): agreeing is weak evidence, differing
    strong evidence against; it tells "Mrs Taylor" from her husband when nothing else does.
    m is fixed (3% of a person's records give another sex: a slip, a wrong title), not trained: the
    pairs EM would learn from can be twins of one birth date, who differ half the time."""
    return Comparison("sex", [
        _null("sex"),
        _level("sex_l = sex_r", "same", m_probability=0.97, fix_m_probability=True),
        {**ELSE, "m_probability": 0.03, "fix_m_probability": True},
    ], {"sex"})


# First names clearly belong to different people: not a nickname, a typo (one
# letter: mia / min, abby / amby, which Jaro-Winkler scores low on short
# names; or close in Jaro-Winkler unless both are real names: patrick /
# patricia, charles / charlotte are two people), a sound-alike spelling, an
# initial, nor names swapped.
FIRST_NAMES_DIFFER = (
    "first_name_canonical_l <> first_name_canonical_r"
    " AND first_name_phonetic_l IS DISTINCT FROM first_name_phonetic_r"
    " AND (jaro_winkler_similarity(first_name_norm_l, first_name_norm_r) < 0.88"
    "      OR coalesce(first_name_listed_l AND first_name_listed_r, false))"
    f" AND NOT {within_edits('first_name_norm_l', 'first_name_norm_r', 1)}"
    " AND NOT starts_with(first_name_norm_l, first_name_norm_r) AND NOT starts_with(first_name_norm_r, first_name_norm_l)"
    f" AND NOT coalesce({SWAPPED}, false)"
    f" AND NOT coalesce({FIRST_NAME_TYPO}, false)"
    f" AND NOT coalesce({NICKNAME_OF_OTHER}, false)"
)
NAME_COLUMNS = {"first_name_norm", "first_name_canonical", "first_name_phonetic", "first_name_listed",
                "first_name_full_names", "last_name_norm", "last_name_canonical"}

HOUSEHOLD = "(household: no evidence)"

# Dates of birth equal, or one typo apart (a digit, day and month swapped).
DOBS_ALIKE = (
    "coalesce(date_of_birth_l = date_of_birth_r"
    " OR (year(date_of_birth_l) = year(date_of_birth_r) AND month(date_of_birth_l) = day(date_of_birth_r)"
    " AND day(date_of_birth_l) = month(date_of_birth_r))"
    f" OR {dates_one_digit_apart('date_of_birth_l', 'date_of_birth_r')}, false)"
)


def _shared_level(agree: str, label: str) -> list[dict]:
    """`agree` for people with clearly different first names: no evidence either way.

    Households share an address, a surname, often an email or a landline. The
    model treats fields as independent, so counting each as agreement would
    merge household members; one person under two first names is far rarer.
    Weight fixed at 0 (m = u). After training, gate_households_on_birth_dates
    narrows it to pairs whose dates of birth differ.
    """
    return [_level(
        f"{agree} AND {FIRST_NAMES_DIFFER}", label,
        m_probability=0.5, u_probability=0.5, fix_m_probability=True, fix_u_probability=True,
    )]


def gate_households_on_birth_dates(model: dict) -> None:
    """Household levels of a trained model apply only when the dates of birth do not agree.

    Household members differ in date of birth: when the dates agree (up to a
    typo), the first name is the likelier error (replaced or badly mistyped)
    and the shared address counts as usual; twins are kept apart by the
    conflict-aware clustering. Done after training, not in the spec: a level
    reading date_of_birth would stop Splink's EM on date-of-birth blocks from
    estimating the address comparison, and those blocks see only agreeing
    dates anyway, so the estimates are the same.
    """
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if HOUSEHOLD in level.get("label_for_charts", "") and DOBS_ALIKE not in level["sql_condition"]:
                level["sql_condition"] = f"({level['sql_condition']}) AND NOT {DOBS_ALIKE}"


def _shared_contact_level(column: str, has_first: bool) -> list[dict]:
    if not has_first:
        return []
    return _shared_level(f"{column}_l = {column}_r", f"shared by different first names {HOUSEHOLD}")


# One address line is the other's street without its house number ("cress way" / "13639 cress way");
# a street, not a bare "road" (8 characters at least).
STREET_WITHOUT_NUMBER = (
    "((house_number_l IS NULL AND house_number_r IS NOT NULL AND length(address_line_norm_l) >= 8"
    "  AND ends_with(address_line_norm_r, ' ' || address_line_norm_l))"
    " OR (house_number_r IS NULL AND house_number_l IS NOT NULL AND length(address_line_norm_r) >= 8"
    "  AND ends_with(address_line_norm_l, ' ' || address_line_norm_r)))"
)
# House numbers one digit apart (different, within one edit), the rest of the line equal and a street
# (three letters at least): a line of a house number alone ("9" / "5": the street lost) is no slip.
HOUSE_NUMBER_SLIP = (
    f"house_number_l <> house_number_r AND {within_edits('house_number_l', 'house_number_r', 1)}"
    " AND length(address_line_norm_l) >= length(house_number_l) + 4"
    " AND replace(address_line_norm_l, house_number_l, '') = replace(address_line_norm_r, house_number_r, '')"
)

# The same house number (or none on both) and address lines alike up to a typo.
SIMILAR_LINE = "house_number_l IS NOT DISTINCT FROM house_number_r AND " + _jaro_winkler("address_line_norm", 0.88)
# Both records name the person: the street levels need it (a form with a surname only would join next door).
BOTH_NAMED = "first_name_norm_l IS NOT NULL AND first_name_norm_r IS NOT NULL"


def address_comparison(has_line: bool, has_postcode: bool, has_city: bool, has_first: bool) -> Comparison:
    """Address line, postcode and city as one comparison.

    They are strongly correlated (same postcode nearly implies same city), so
    separate comparisons would count the same evidence two or three times and
    make household members look like one person.
    """
    present = [c for c, has in (("address_line_norm", has_line), ("postcode_norm", has_postcode),
                                ("city_norm", has_city)) if has]
    same_line = "address_line_norm_l = address_line_norm_r"
    same_pc = "postcode_norm_l = postcode_norm_r"
    # Same place: postcode district or city agrees (up to one typo), or one side does not say.
    area_parts = []
    if has_postcode:
        area_parts.append(
            f"postcode_district_l = postcode_district_r OR {within_edits('postcode_norm_l', 'postcode_norm_r', 1)}"
            " OR postcode_norm_l IS NULL OR postcode_norm_r IS NULL"
        )
    if has_city:
        area_parts.append(f"{_jaro_winkler('city_norm', 0.92)}")
    same_area = f"({' OR '.join(area_parts)})" if area_parts else "TRUE"

    levels = [_null(*present)]
    if has_first and (has_line or has_postcode):
        shared = " OR ".join(c for c, has in ((same_line, has_line), (same_pc, has_postcode)) if has)
        levels += _shared_level(f"({shared})", f"same address, but different first names {HOUSEHOLD}")
    if has_line and has_postcode:
        levels.append(_level(f"{same_line} AND {same_pc}", "same address and postcode"))
        levels.append(_level(f"{same_pc} AND {SIMILAR_LINE}", "same postcode, similar address"))
        levels.append(_level(
            f"{same_pc} AND (address_line_norm_l IS NULL OR address_line_norm_r IS NULL)",
            "same postcode, address line missing",
        ))
    if has_line:
        levels.append(_level(f"{same_line} AND {same_area}", "same address, postcode different or missing"))
        # The same street, the house number left out on one side or one digit wrong: a blank
        # is no evidence, and 9161 / 9151 college court is a slip more often than a neighbour,
        # when both records name the person (a form with a surname only would join next door).
        if has_first:
            levels.append(_level(f"{STREET_WITHOUT_NUMBER} AND {same_area} AND {BOTH_NAMED}",
                                 "same street, house number missing on one side"))
            levels.append(_level(f"{HOUSE_NUMBER_SLIP} AND {same_area} AND {BOTH_NAMED}",
                                 "same street, house number one digit different"))
    if has_postcode:
        # Neighbours: the postcode agrees but the address line clearly does not. Where the
        # town is recorded too, agreeing on it is its own level: EM weighs what it adds. Where
        # a postcode names one town (most data) it adds nothing and both levels weigh alike;
        # where it does not (a postcode shared by towns, fields recorded apart) it tells
        # a moved or mistyped house from a stranger who only shares the postcode.
        if has_city:
            levels.append(_level(f"{same_pc} AND city_norm_l = city_norm_r",
                                 "same postcode and town, different address"))
        levels.append(_level(same_pc, "same postcode, different address"))
    if has_line:
        levels.append(_level(f"{SIMILAR_LINE} AND {same_area}", "similar address in the same area"))
    if has_postcode:
        levels.append(_level("postcode_sector_l = postcode_sector_r", "same postcode sector"))
        levels.append(_level("postcode_district_l = postcode_district_r", "same postcode district"))
    if has_city:
        levels.append(_level("city_norm_l = city_norm_r", "same city"))
    if has_line and (has_postcode or has_city):
        # The same house and street (up to a typo) with postcode and town both different or mistyped beyond
        # the levels above: a form whose town was garbled, or the same address line in another town. Its
        # own weight (EM), not "different": "26 yampi place" / "26 yampi plvace", 2098 currimundi / 2809 greenwood.
        levels.append(_level(f"({same_line}) OR ({SIMILAR_LINE})", "same or similar address line, another area"))
    levels.append(ELSE)

    columns = set(present) | (NAME_COLUMNS if has_first else set())
    if has_line:
        columns.add("house_number")
    if has_postcode:
        columns |= {"postcode_sector", "postcode_district"}
    return Comparison("address", levels, columns)


def address_part_comparisons(has_line: bool, has_postcode: bool, has_city: bool, has_first: bool) -> list[Comparison]:
    """Address line, postcode and town as three comparisons, for data without households
    (identity.household_safe off): one person's records there often share an address whose
    other fields a source replaced or garbled, and each part that agrees is evidence of its
    own (FEBRL draws towns and postcodes apart, as data merged from unrelated forms does).
    In household data they count once (address_comparison): counted thrice, a shared
    address would outweigh two different first names and dates of birth."""
    comparisons = []
    if has_line:
        levels = [_null("address_line_norm"),
                  _level("address_line_norm_l = address_line_norm_r", "same address line"),
                  _level(SIMILAR_LINE, "similar address line")]
        if has_first:
            levels.append(_level(f"{STREET_WITHOUT_NUMBER} AND {BOTH_NAMED}", "same street, house number missing on one side"))
            levels.append(_level(f"{HOUSE_NUMBER_SLIP} AND {BOTH_NAMED}", "same street, house number one digit different"))
        levels.append(_level("house_number_l = house_number_r", "same house number, another street"))
        levels.append(ELSE)
        comparisons.append(Comparison("address_line", levels, {"address_line_norm", "house_number"}
                                      | (NAME_COLUMNS if has_first else set())))
    if has_postcode:
        comparisons.append(Comparison("postcode", [
            _null("postcode_norm"),
            _level("postcode_norm_l = postcode_norm_r", "same postcode"),
            _level(within_edits("postcode_norm_l", "postcode_norm_r", 1), "postcode one character different"),
            _level("postcode_sector_l = postcode_sector_r", "same postcode sector"),
            _level("postcode_district_l = postcode_district_r", "same postcode district"),
            ELSE,
        ], {"postcode_norm", "postcode_sector", "postcode_district"}))
    if has_city:
        comparisons.append(Comparison("city", [
            _null("city_norm"),
            _level("city_norm_l = city_norm_r", "same town"),
            _level(_jaro_winkler("city_norm", 0.92), "similar town"),
            ELSE,
        ], {"city_norm"}))
    return comparisons


def email_comparison(has_first: bool) -> Comparison:
    # No "similar username" levels: usernames are mostly built from the name
    # (james.white92 / jameswhite51), so they would count the name agreement twice.
    levels = [
        _null("email"),
        *_shared_contact_level("email", has_first),
        # Term frequencies: an address used by many records counts for less.
        _level("email_l = email_r", "exact match", tf_adjustment_column="email"),
        # Same digits: jsmith1@ / jsmith2@ are usually two people, not a typo. Nor
        # is a separator: john.smith@ / john_smith@ / johnsmith@ are the handles
        # that different John Smiths pick (common once there are many of them).
        # within_one_edit: the same pairs, most spared the edit distance.
        _level(
            f"{within_one_edit('email_l', 'email_r')} AND "
            "regexp_replace(email_l, '[^0-9]', '', 'g') = regexp_replace(email_r, '[^0-9]', '', 'g') AND "
            "regexp_replace(email_l, '[._-]', '', 'g') <> regexp_replace(email_r, '[._-]', '', 'g')",
            "one letter typed wrong",
        ),
        ELSE,
    ]
    return Comparison("email", levels, {"email"} | (NAME_COLUMNS if has_first else set()))


def phone_comparison(has_first: bool) -> Comparison:
    levels = [
        _null("phone"),
        *_shared_contact_level("phone", has_first),
        _level("phone_l = phone_r", "exact match", tf_adjustment_column="phone"),
        _level(within_one_edit("phone_l", "phone_r"), "one digit typed wrong"),
        ELSE,
    ]
    return Comparison("phone", levels, {"phone"} | (NAME_COLUMNS if has_first else set()))


# Blocking rules to generate predictions, each with the fields it needs. Keys are
# the capped bk_* columns (splink_prepare), so no single value can explode.
PREDICTION_RULES = [
    ("bk_name", {"first", "last"}),  # first (canonical) + last name, either order
    ("bk_phonetic_name", {"first", "last"}),  # the same by sound (catherine smyth / kathryn smith)
    ("bk_dob_last", {"dob", "last"}),  # date of birth + first letter of last name
    ("bk_dob_first", {"dob", "first"}),  # date of birth + first letter of first name (surname changed)
    ("bk_dob_initials", {"dob", "first", "last"}),  # date of birth + both initials in either order (names swapped)
    ("bk_last_year", {"dob", "last"}),  # first 3 letters of last name + birth year: survives a replaced first name
    #                                     and a mistyped day or month
    ("bk_postcode", {"postcode"}),
    ("bk_house_postcode", {"address", "postcode"}),  # house number + postcode: the street misspelt, the postcode
    #                                                  too common to block on alone (capped)
    ("bk_address", {"address"}),
    # A name + the address: small blocks even where many share an address (a care home, a hall of
    # residence, a prison, whose address alone is capped), and either name may be misspelt or missing.
    ("bk_last_address", {"last", "address"}),
    ("bk_first_address", {"first", "address"}),
    # Date of birth + house number: survives both names replaced or swapped and the street, postcode
    # and town mistyped ("timothy coffey, 23 bacchus circuit" / "dominey timothy, 23 bacchus hircuit").
    ("bk_dob_house", {"dob", "address"}),
    ("bk_email", {"email"}),
    ("bk_phone", {"phone"}),
]

# Near-certain rules whose matches estimate the probability two random records match.
DETERMINISTIC_RULES = [
    (("first_name_canonical", "last_name_norm", "date_of_birth"), {"first", "last", "dob"}),
    (("first_name_canonical", "last_name_norm", "postcode_norm"), {"first", "last", "postcode"}),
    (("email", "first_name_canonical"), {"email", "first"}),
    (("phone", "first_name_canonical"), {"phone", "first"}),
]
FALLBACK_DETERMINISTIC_RULES = [
    (("date_of_birth", "postcode_norm"), {"dob", "postcode"}),
    (("email",), {"email"}),
    (("phone",), {"phone"}),
]

# Candidate EM blocking rules, in order of preference. A rule cannot estimate
# the comparisons using its columns, so several are combined (see em_rules).
EM_RULES = [
    (("date_of_birth",), {"dob"}),
    (("first_name_canonical", "last_name_norm"), {"first", "last"}),
    (("postcode_norm",), {"postcode"}),
    (("email",), {"email"}),
    (("phone",), {"phone"}),
    (("address_line_norm",), {"address"}),
    # Large blocks, but EM samples them (max_pairs); for data with few fields.
    (("last_name_norm",), {"last"}),
    (("first_name_canonical",), {"first"}),
    (("city_norm",), {"city"}),
]

FIELD_COLUMNS = {
    "first": "first_name_norm", "last": "last_name_norm", "dob": "date_of_birth", "email": "email",
    "phone": "phone", "address": "address_line_norm", "postcode": "postcode_norm", "city": "city_norm",
    "sex": "sex",
}


@dataclass
class ModelSpec:
    fields: set[str]
    comparisons: list[Comparison]
    blocking_rules: list[str] = field(default_factory=list)
    deterministic_rules: list[tuple[str, ...]] = field(default_factory=list)
    em_rules: list[tuple[str, ...]] = field(default_factory=list)

    def settings(self) -> SettingsCreator:
        return SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="record_key",
            comparisons=[c.as_dict() for c in self.comparisons],
            blocking_rules_to_generate_predictions=[block_on(key) for key in self.blocking_rules],
            # Both needed for waterfall charts and per-comparison explanations.
            retain_matching_columns=True,
            retain_intermediate_calculation_columns=True,
        )


def populated_fields(fill: dict[str, float], min_fill: float = DEFAULT_MIN_FILL) -> set[str]:
    return {f for f, column in FIELD_COLUMNS.items() if fill.get(column, 0.0) >= min_fill}


def build_spec(fields: set[str], household: bool = True) -> ModelSpec:
    """The model for these populated fields.

    Household levels (an address / email / phone shared under different first
    names is no evidence) make those comparisons use the name columns, so EM
    cannot estimate them from name-blocked pairs; without a date of birth,
    email or phone to block on instead (e.g. names + address only), the model
    is built without them. `household` False (identity.household_safe: false,
    data without households) leaves them out: a shared address then counts.
    """
    if household:
        try:
            return _build_spec(fields, household=True)
        except ValueError:
            pass  # household data with too few fields for household levels: the address still counts once
        return _build_spec(fields, household=False)
    return _build_spec(fields, household=False, address_parts=True)


# The comparisons of address_part_comparisons; a household model has one, "address".
ADDRESS_PARTS = ("address_line", "postcode", "city")


def has_address_parts(model: dict) -> bool:
    """Whether a saved model compares the parts of an address apart (address_part_comparisons)."""
    return any(comparison["output_column_name"] in ADDRESS_PARTS for comparison in model["comparisons"])


def has_household_levels(model: dict) -> bool:
    """Whether a saved model counts an address, email or phone shared under different first names as no evidence."""
    return any(HOUSEHOLD in level.get("label_for_charts", "")
               for comparison in model["comparisons"] for level in comparison["comparison_levels"])


def _build_spec(fields: set[str], household: bool, address_parts: bool = False) -> ModelSpec:
    has_first = "first" in fields
    comparisons = []
    if "first" in fields:
        comparisons.append(first_name_comparison(has_last="last" in fields))
    if "last" in fields:
        comparisons.append(last_name_comparison(has_first="first" in fields))
    if "dob" in fields:
        comparisons.append(date_of_birth_comparison())
    address = ("address" in fields, "postcode" in fields, "city" in fields)
    if address_parts:
        comparisons += address_part_comparisons(*address, has_first)
    elif any(address):
        comparisons.append(address_comparison(*address, household and has_first))
    if "sex" in fields:
        comparisons.append(sex_comparison())
    if "email" in fields:
        comparisons.append(email_comparison(household and has_first))
    if "phone" in fields:
        comparisons.append(phone_comparison(household and has_first))
    if len([c for c in comparisons if c.name != "sex"]) < 2:
        raise ValueError(f"too few populated fields for probabilistic matching: {sorted(fields)}")

    deterministic = [cols for cols, need in DETERMINISTIC_RULES if need <= fields]
    if not deterministic:
        deterministic = [cols for cols, need in FALLBACK_DETERMINISTIC_RULES if need <= fields][:1]
    return ModelSpec(
        fields=fields,
        comparisons=comparisons,
        blocking_rules=[key for key, need in PREDICTION_RULES if need <= fields],
        deterministic_rules=deterministic,
        em_rules=em_rules(fields, comparisons),
    )


def em_rules(fields: set[str], comparisons: list[Comparison]) -> list[tuple[str, ...]]:
    """At least two EM rules, together estimating every comparison at least once."""
    candidates = [cols for cols, need in EM_RULES if need <= fields]
    chosen: list[tuple[str, ...]] = []
    untrained = {c.name for c in comparisons}
    for cols in candidates:
        trains = {c.name for c in comparisons if not set(cols) & c.columns}
        if trains & untrained:
            chosen.append(cols)
            untrained -= trains
    for cols in candidates:
        if len(chosen) >= 2:
            break
        if cols not in chosen:
            chosen.append(cols)
    if untrained or len(chosen) < 2:
        raise ValueError(f"cannot estimate m for {sorted(untrained)} with fields {sorted(fields)}")
    return chosen
