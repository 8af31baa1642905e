"""Where the configuration and the data are found: --config, then $DEALERFLOW_CONFIG, then
./config.yaml, then the packaged default; relative paths start at the configuration's
folder; `daily` and `study` look for the real-data folder in the documented order and
name every place searched when there is none."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from monitor.cli.common import app
from monitor.cli.common import chain_files as _chains
from monitor.config import load_settings, locate_config
from monitor.paths import DATA_ENV, find_data_dir, packaged_chain, packaged_config
from tests.data_paths import DATA_DIR


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("DEALERFLOW_CONFIG", raising=False)
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    # the checkout's own shared/data would be found: point that candidate away
    monkeypatch.setattr("monitor.paths.CHECKOUT_DATA", tmp_path / "no-checkout" / "data")
    return tmp_path


def test_order_of_lookup(clean_env, monkeypatch):
    tmp = clean_env
    assert locate_config() == (packaged_config(), "packaged default")
    (tmp / "config.yaml").write_text("pricing: {rate: 0.031}\n")
    assert locate_config()[1] == "./config.yaml"
    assert load_settings().pricing.rate == 0.031
    env_file = tmp / "env.yaml"
    env_file.write_text("pricing: {rate: 0.032}\n")
    monkeypatch.setenv("DEALERFLOW_CONFIG", str(env_file))
    assert load_settings().pricing.rate == 0.032 and load_settings().config_origin == \
        "$DEALERFLOW_CONFIG"
    explicit = tmp / "explicit.yaml"
    explicit.write_text("pricing: {rate: 0.033}\n")
    s = load_settings(explicit)
    assert s.pricing.rate == 0.033 and s.config_origin == "--config"
    assert s.base == tmp.resolve()


def test_missing_files_are_errors_not_fallbacks(clean_env, monkeypatch):
    with pytest.raises(FileNotFoundError, match="config file not found: nope.yaml"):
        locate_config("nope.yaml")
    monkeypatch.setenv("DEALERFLOW_CONFIG", "gone.yaml")
    with pytest.raises(FileNotFoundError, match=r"gone.yaml \(from \$DEALERFLOW_CONFIG\)"):
        locate_config()


def test_relative_paths_start_at_the_config_file(clean_env):
    sub = clean_env / "conf"
    sub.mkdir()
    (sub / "mine.yaml").write_text("embedded: {chain: chains/x.csv.gz}\n"
                                   "chains: []\n")
    s = load_settings(sub / "mine.yaml")
    assert _chains(s, None) == [sub.resolve() / "chains" / "x.csv.gz"]
    # the packaged default names no chain: the packaged one is the embedded default
    assert _chains(load_settings(), None) == [packaged_chain()]


def test_data_dir_order_and_error(clean_env, monkeypatch):
    tmp = clean_env
    with pytest.raises(FileNotFoundError) as err:
        find_data_dir(None, None)
    msg = str(err.value)
    for place in ("$DEALERFLOW_DATA (not set)", "data_dir in the configuration (not set)",
                  "../shared/data from the working directory",
                  "shared/data beside the installed checkout"):
        assert place in msg
    monkeypatch.setenv(DATA_ENV, str(DATA_DIR))
    assert find_data_dir() == DATA_DIR
    assert find_data_dir(config_data_dir=tmp) == DATA_DIR  # the environment comes first
    assert find_data_dir(tmp) == tmp  # the option comes before all
    with pytest.raises(FileNotFoundError, match="data directory not found"):
        find_data_dir(tmp / "typo")


def test_daily_without_data_names_every_place(clean_env, monkeypatch):
    r = CliRunner().invoke(app, ["daily"])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("monitor: error: no real-data directory")
    assert "$DEALERFLOW_DATA (not set)" in lines[0] and "--data" in lines[0]
    r = CliRunner().invoke(app, ["study", "--out", str(clean_env / "o")])
    assert r.exit_code == 2 and "no real-data directory found" in r.stderr


def test_a_misspelled_environment_variable_is_an_error_with_a_did_you_mean(clean_env,
                                                                           monkeypatch):
    """DEALERFLOW_PRICNG__RATE would otherwise be ignored in silence."""
    from typer.testing import CliRunner

    from monitor.cli import app
    from monitor.config import ConfigError, load_settings

    monkeypatch.setenv("DEALERFLOW_PRICNG__RATE", "0.05")
    with pytest.raises(ConfigError, match=r"^environment variable DEALERFLOW_PRICNG__RATE: "
                                          r"unknown setting pricng\.rate \(did you mean "
                                          r"DEALERFLOW_PRICING__RATE\?\)$"):
        load_settings()
    r = CliRunner().invoke(app, ["snapshot", "whatever.csv"])
    assert r.exit_code == 2
    assert r.stderr.strip() == ("monitor: error: environment variable DEALERFLOW_PRICNG__RATE: "
                                "unknown setting pricng.rate (did you mean "
                                "DEALERFLOW_PRICING__RATE?)")
    monkeypatch.delenv("DEALERFLOW_PRICNG__RATE")
    # deeper paths, dict keys and plain-value dicts are settings too
    for name in ("DEALERFLOW_UNDERLYINGS__NDX__MULTIPLIER", "DEALERFLOW_PRICING__RATES__30",
                 "DEALERFLOW_UNDERLYINGS__SPX__BOUNDS__SPOT_BAND_PCT"):
        monkeypatch.setenv(name, "7")
        load_settings()
        monkeypatch.delenv(name)
    monkeypatch.setenv("DEALERFLOW_UNDERLYINGS__SPX__MULTIPLER", "7")
    with pytest.raises(ConfigError, match="did you mean DEALERFLOW_UNDERLYINGS__SPX__MULTIPLIER"):
        load_settings()


def test_an_empty_environment_variable_is_unset(clean_env, monkeypatch):
    from monitor.config import load_settings

    monkeypatch.setenv("DEALERFLOW_PRICING__RATE", "")
    monkeypatch.setenv("DEALERFLOW_REDIS__URL", "")
    s = load_settings()
    assert s.pricing.rate == 0.04 and s.redis.url == "redis://127.0.0.1:6379/0"
