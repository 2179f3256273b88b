"""The base of the configuration's pydantic models, and how their errors read.

Every problem is reported as `key.path: reason`, the first one found, so a
user fixes cdp.yml (or segments.yml) from the message alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator


class ConfigError(ValueError):
    """A problem in cdp.yml, naming the key and the reason."""

    def __init__(self, key: str, reason: str, path: Path | None = None):
        self.key, self.reason = key, reason
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{key}: {reason}")


class Problem(ValueError):
    """Raised by a validator: the reason, and the key below the validated value it concerns."""

    def __init__(self, reason: str, key: str = ""):
        super().__init__(reason)
        self.key = key


class Strict(BaseModel):
    """A mapping of the config: unknown keys are errors; a key left empty (or
    null) takes its default, and defaults are validated like written values."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if data is None:
            return {}
        if not isinstance(data, dict):
            return data  # pydantic reports the type
        known = {field.alias or name for name, field in cls.model_fields.items()}
        for key in data:
            if key not in known:
                raise Problem(f"unknown key (expected one of: {', '.join(sorted(known))})", key=str(key))
        return {key: value for key, value in data.items() if value is not None}


def validate(model: type[Strict], data: Any, *, context: dict | None = None, prefix: str = "",
             relabel: Callable[[list], list] = lambda loc: loc) -> Any:
    """`model` validated from `data`; the first error raised as a ConfigError.
    `relabel` may rename parts of an error's location (a list item by its name)."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        first = error.errors()[0]
        problem = first.get("ctx", {}).get("error")
        loc = [part for part in first["loc"] if part != "[key]"]
        if getattr(problem, "key", ""):
            loc += problem.key.split(".")
        loc = relabel(loc)
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
        raise ConfigError(prefix + (key or "(top level)"), _reason(first, problem)) from None


def _reason(error: dict, problem: Exception | None) -> str:
    if problem is not None:
        return str(problem)
    if error["type"] == "missing":
        return "is required"
    if error["type"].startswith("bool"):
        return f"must be true or false, not {error['input']!r}"
    if error["type"] == "too_short":
        return "must not be empty"
    if error["type"] == "model_type":
        return f"must be a mapping, not {error['input']!r}"
    reason = error["msg"].replace("Input should be", "must be").replace("a valid tuple", "a list").replace("a valid dictionary", "a mapping")
    return f"{reason}, not {error['input']!r}"
