"""Trainer options: each config field's help sentence, allowed values and range, stated once
beside the field (`option(...)`), read by the command line (help, choices) and checked by
`check()` for `spikekern train`, `sweep` and `eval` alike."""
from __future__ import annotations

import dataclasses
import math


def option(default, help: str, *, choices=None, low=None, high=None, above=None):
    """A config field with its help; `choices` (a tuple of allowed values), `low`/`high`
    (inclusive bounds) or `above` (an exclusive lower bound) for numbers, applied to each
    element of a tuple."""
    return dataclasses.field(default=default, metadata=dict(help=help, choices=choices, low=low, high=high,
                                                             above=above))


def checkpoint_minutes_option():
    """Every trainer config's `checkpoint_minutes` field (defined once, here)."""
    return option(30.0, "wall-clock minutes between checkpoints inside an epoch (0: at the end of each epoch "
                        "only): a crash or SIGKILL loses at most this much training", low=0)


def _bound_text(m: dict) -> str:
    parts = []
    if m["above"] is not None:
        parts.append(f"above {m['above']}")
    if m["low"] is not None and m["high"] is not None:
        parts.append(f"between {m['low']} and {m['high']}")
    elif m["low"] is not None:
        parts.append(f"at least {m['low']}")
    elif m["high"] is not None:
        parts.append(f"at most {m['high']}")
    return " and ".join(parts)


def check(cfg) -> None:
    """ValueError naming the option (as typed on the command line) for the first value out of
    its range or not among its choices."""
    for f in dataclasses.fields(cfg):
        m, value = f.metadata, getattr(cfg, f.name)
        if not m:
            continue
        flag = "--" + f.name.replace("_", "-")
        values = value if isinstance(value, tuple) else (value,)
        if m["choices"] is not None and value not in m["choices"]:
            shown = [c for c in m["choices"] if c != ""]
            raise ValueError(f"unknown {f.name.replace('_', ' ')} {value!r}; choose one of {shown}")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            bad = (not math.isfinite(v)
                   or (m["above"] is not None and not v > m["above"])
                   or (m["low"] is not None and v < m["low"])
                   or (m["high"] is not None and v > m["high"]))
            if bad:
                raise ValueError(f"{flag} must be {_bound_text(m) or 'finite'}, got {value}")


def help_text(f: dataclasses.Field) -> str:
    """--help text of a field: its sentence and its default (the command line shows the
    allowed values as the option's metavar)."""
    m = f.metadata
    text = m.get("help", "")
    default = f.default
    shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
    return f"{text} (default: {shown})" if shown != "" else text
