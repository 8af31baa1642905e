"""Where the monitor finds its files: the packaged defaults and the real-data folder.

Packaged with the monitor (``monitor/data/``, see its ``README.md`` for source and terms):

* :func:`packaged_config`: the default configuration (a copy of the repository's
  ``config.yaml``), used when no other configuration file is found;
* :func:`packaged_chain`: one real SPX end-of-day chain (CBOE, 2026-08-21), the embedded
  default's universe (``embedded.chain: null``).

The real-data folder (the ``shared/data`` layout: ``market_daily/``, ``calendar/``,
``intraday/``, ``cboe_chain_eod_2026/``, ...), for ``monitor daily`` and ``monitor study``,
is the first of these that exists (:func:`find_data_dir`):

1. the command's own option (``--data``, or the chain folder given to ``daily``);
2. the environment variable ``DEALERFLOW_DATA``;
3. ``data_dir`` in the configuration file (relative to that file);
4. ``../shared/data`` from the working directory (a checkout's sibling ``shared/``);
5. ``shared/data`` beside the checkout the package was installed from (editable installs).

When none exists the error lists every place searched, so a user sees where to put it.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

DATA_ENV = "DEALERFLOW_DATA"
#: ``shared/data`` beside the checkout this package was installed from (editable installs)
CHECKOUT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PACKAGED_CHAIN_NAME = "SPX_2026-08-21.csv.gz"


def _package_data() -> Path:
    return Path(str(files("monitor") / "data"))


def packaged_config() -> Path:
    """The default configuration shipped in the package."""
    return _package_data() / "config.yaml"


def packaged_chain() -> Path:
    """The real SPX chain shipped in the package (the embedded default)."""
    return _package_data() / PACKAGED_CHAIN_NAME


class DataNotFound(FileNotFoundError):
    """No real-data folder was found; the message names every place searched."""


def data_candidates(explicit: str | os.PathLike | None = None,
                    config_data_dir: Path | None = None) -> list[tuple[str, Path | None]]:
    """``(where, path)`` in the order searched (module docstring); ``path`` None when that
    place is not set."""
    env = os.environ.get(DATA_ENV)
    return [
        ("--data", Path(explicit) if explicit is not None else None),
        (f"${DATA_ENV}", Path(env) if env else None),
        ("data_dir in the configuration", config_data_dir),
        ("../shared/data from the working directory", Path("../shared/data")),
        ("shared/data beside the installed checkout", CHECKOUT_DATA),
    ]


def find_data_dir(explicit: str | os.PathLike | None = None,
                  config_data_dir: Path | None = None) -> Path:
    """The real-data folder (module docstring), or :class:`DataNotFound`. An ``explicit``
    folder that does not exist is an error at once (a typo must not fall back)."""
    searched = []
    for where, path in data_candidates(explicit, config_data_dir):
        if path is None:
            searched.append(f"{where} (not set)")
            continue
        if path.is_dir():
            return path
        if where == "--data":
            raise DataNotFound(f"data directory not found: {path}")
        searched.append(f"{where} ({path.resolve()})")
    raise DataNotFound("no real-data directory found; searched: " + "; ".join(searched)
                       + f". Pass --data DIR or set {DATA_ENV}")
