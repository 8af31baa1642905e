"""Settings: ``config.yaml`` (every key documented there) with environment overrides.

Precedence, highest first: keyword arguments (the CLI's options), environment variables
``DEALERFLOW_<SECTION>__<KEY>`` (e.g. ``DEALERFLOW_REDIS__URL``,
``DEALERFLOW_PRICING__RATE``), the YAML file, the defaults below.

The YAML file (:func:`locate_config`) is ``--config FILE``, else ``$DEALERFLOW_CONFIG``
(either must exist), else ``./config.yaml`` when there is one, else the default shipped in
the package (:func:`monitor.paths.packaged_config`). Relative paths in a configuration
(``chains``, ``embedded.chain``, ``data_dir``, position files) are relative to the folder
of the file they are written in: :attr:`Settings.base`.

Secrets (webhook URLs, passwords) are never read from the YAML file: only from the
environment, as ``SecretStr`` so they do not appear in logs or reprs.
"""

from monitor.config.loading import CONFIG_ENV, ConfigError, check_environment, load_settings, locate_config
from monitor.config.sections import (
    SPX_ADV_SOURCE,
    SPX_ADV_UNITS,
    AlertingSettings,
    AlertSecrets,
    BoundsSettings,
    DatabentoSettings,
    EmbeddedSettings,
    IntervalSettings,
    KafkaSettings,
    KafkaTopics,
    MetricsSettings,
    PositionModel,
    PricingSettings,
    RedisSettings,
    RegimeSettings,
    Section,
    SizingSettings,
    StreamSettings,
    UnderlyingFeed,
    UnderlyingSettings,
)
from monitor.config.settings import SECRET_KEYS, SECRET_SECTIONS, Settings

__all__ = ["CONFIG_ENV", "SECRET_KEYS", "SECRET_SECTIONS", "SPX_ADV_SOURCE", "SPX_ADV_UNITS",
           "AlertSecrets", "AlertingSettings", "BoundsSettings", "ConfigError",
           "DatabentoSettings", "EmbeddedSettings", "IntervalSettings", "KafkaSettings",
           "KafkaTopics", "MetricsSettings", "PositionModel", "PricingSettings",
           "RedisSettings", "RegimeSettings", "Section", "Settings", "SizingSettings",
           "StreamSettings", "UnderlyingFeed", "UnderlyingSettings", "check_environment",
           "load_settings", "locate_config"]
