"""config.yaml and the settings model say the same defaults: every value the repository's
(and the package's) config.yaml sets is the model's default for it, so a key left out of
a user's file means what the shipped file says. The one exception is by design: the
``underlyings`` table lists more roots than the model's built-in SPX (each checked to load
as an underlying's settings)."""

from __future__ import annotations

from pathlib import Path

import yaml

from monitor.config import Settings, UnderlyingSettings

REPO = Path(__file__).resolve().parents[1]


def _differences(given: dict, model: dict, path: tuple = ()) -> list:
    out = []
    for key, value in given.items():
        where = path + (key,)
        if key not in model:
            out.append((".".join(map(str, where)), "not in the model's defaults"))
        elif isinstance(value, dict) and isinstance(model[key], dict):
            out += _differences(value, model[key], where)
        elif value != model[key]:
            out.append((".".join(map(str, where)), value, model[key]))
    return out


def test_every_value_config_yaml_sets_is_the_models_default():
    given = yaml.safe_load((REPO / "config.yaml").read_text())
    extra = {root: given["underlyings"].pop(root) for root in list(given["underlyings"])
             if root not in Settings().underlyings}
    assert _differences(given, Settings().model_dump(mode="json")) == []
    assert set(extra) == {"SPY", "VIX", "NDX", "RUT", "XSP"}
    for entry in extra.values():
        UnderlyingSettings.model_validate(entry)  # raises, naming the key, when it cannot


def test_a_changed_default_is_found():
    # the comparison itself: a value the model does not share is reported with its path
    assert _differences({"pricing": {"rate": 0.05}}, {"pricing": {"rate": 0.04}}) == [
        ("pricing.rate", 0.05, 0.04)]
    assert _differences({"nope": 1}, {}) == [("nope", "not in the model's defaults")]
