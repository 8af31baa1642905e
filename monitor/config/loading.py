"""Finding and reading the configuration: which file, the environment's overrides checked
against the known keys (a misspelt one named, with the nearest), and a validation error
as one line naming the file, the key and the value."""

from __future__ import annotations

import difflib
import os
import typing
from pathlib import Path

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic_settings import (
    PydanticBaseSettingsSource,
)

from monitor.config.settings import Settings, YamlWithoutSecrets
from monitor.paths import DATA_ENV, packaged_config

CONFIG_ENV = "DEALERFLOW_CONFIG"


def locate_config(path: str | os.PathLike | None = None) -> tuple[Path, str]:
    """(file, origin) of the configuration to read (module docstring)."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p}")
        return p, "--config"
    env = os.environ.get(CONFIG_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p} (from ${CONFIG_ENV})")
        return p, f"${CONFIG_ENV}"
    local = Path("config.yaml")
    if local.is_file():
        return local, "./config.yaml"
    return packaged_config(), "packaged default"


class ConfigError(ValueError):
    """A configuration that cannot be used, in one line: the file (or environment
    variable), the key's path, and what is wrong (with a suggestion for a near-miss key)."""


def _model_of(annotation):
    """The Section class inside an annotation (``X``, ``X | None``, ``dict[str, X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        inner, _ = _model_of(args[1])
        return inner, True
    for a in args:
        inner, keyed = _model_of(a)
        if inner is not None:
            return inner, keyed
    return None, False


def _known_keys(loc: tuple) -> list[str]:
    """The keys allowed beside the last part of ``loc`` (for a did-you-mean)."""
    model, parts = Settings, list(loc[:-1])
    while parts:
        field = model.model_fields.get(str(parts.pop(0))) if model is not None else None
        if field is None:
            return []
        model, keyed = _model_of(field.annotation)
        if keyed and parts:
            parts.pop(0)  # the dict key (e.g. underlyings.SPX)
    return list(model.model_fields) if model is not None else []


ENV_PREFIX = "DEALERFLOW_"

#: DEALERFLOW_ variables that are not settings (read by the commands themselves)
OTHER_ENV = (CONFIG_ENV, DATA_ENV)


def _env_path_known(parts: list[str]) -> tuple[bool, list[str]]:
    """(whether ``parts``, a lower-case setting path, names a setting; the keys allowed
    where it first goes wrong). A dict of sections (``underlyings``) takes any key, then
    that section's keys; a dict of plain values (``pricing.rates``, ``bounds`` of an
    underlying) any key."""
    model = Settings
    rest = list(parts)
    while rest:
        key = rest.pop(0)
        if model is None:  # inside a dict of plain values
            return not rest, []
        fields = {name.lower(): f for name, f in model.model_fields.items()}
        field = fields.get(key)
        if field is None:
            return False, list(fields)
        inner, keyed = _model_of(field.annotation)
        if keyed and rest:
            rest.pop(0)  # the dict key: underlyings.SPX
            model = inner
        elif inner is not None:
            model = inner
        else:
            plain_dict = typing.get_origin(field.annotation) is dict
            return (not rest) or (plain_dict and len(rest) == 1), []
    return True, []


def check_environment(environ=None) -> None:
    """Every ``DEALERFLOW_*`` variable must name a setting (or be one of
    :data:`OTHER_ENV`): a misspelled one (``DEALERFLOW_PRICNG__RATE``) would otherwise be
    ignored in silence. :class:`ConfigError` naming it, with a did-you-mean. (An empty
    variable counts as unset: ``env_ignore_empty``.)"""
    environ = os.environ if environ is None else environ
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in OTHER_ENV or not environ[name]:
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        ok, allowed = _env_path_known(parts)
        if ok:
            continue
        bad = next(i for i in range(1, len(parts) + 1) if not _env_path_known(parts[:i])[0])
        near = difflib.get_close_matches(parts[bad - 1], allowed, n=1, cutoff=0.6)
        hint = ""
        if near:
            fixed = parts[:bad - 1] + [near[0]] + parts[bad:]
            hint = f" (did you mean {ENV_PREFIX}{'__'.join(fixed).upper()}?)"
        raise ConfigError(f"environment variable {name}: unknown setting "
                          f"{'.'.join(parts)}{hint}")


def describe_error(err: ValidationError, yaml_path: Path) -> str:
    """One line for the first error of ``err`` (and how many more there are)."""
    first = err.errors()[0]
    loc = tuple(str(x) for x in first["loc"])
    key = ".".join(loc)
    env = "DEALERFLOW_" + "__".join(loc).upper()
    where = f"environment variable {env}" if env in os.environ else str(yaml_path)
    if first["type"] == "extra_forbidden":
        what = "unknown key"
        near = difflib.get_close_matches(loc[-1], _known_keys(loc), n=1, cutoff=0.7)
        if near:
            what += f" (did you mean {'.'.join(loc[:-1] + (near[0],))}?)"
    else:
        got = first.get("input")
        what = first["msg"] + ("" if isinstance(got, dict) else f", got {got!r}")
    more = len(err.errors()) - 1
    return f"{where}: {key}: {what}" + (f" (and {more} more)" if more else "")


def load_settings(path: str | os.PathLike | None = None, **overrides) -> Settings:
    """Settings from the configuration :func:`locate_config` finds for ``path`` (module
    docstring), with ``overrides`` on top. :class:`ConfigError` (one line) when the file
    or the environment cannot be used."""
    yaml_path, origin = locate_config(path)
    check_environment()

    class _Settings(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings
                                       ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings,
                    YamlWithoutSecrets(settings_cls, yaml_file=yaml_path))

    try:
        settings = _Settings(**overrides)
    except ValidationError as err:
        raise ConfigError(describe_error(err, yaml_path)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{yaml_path}:{mark.line + 1}:{mark.column + 1}" if mark else str(yaml_path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    settings._config_file = yaml_path
    settings._config_origin = origin
    return settings
