"""Kafka TLS and SASL settings map to aiokafka's options for the consumer and producers;
the SASL password comes from the environment only and never from the YAML file."""

import pytest
from pydantic import SecretStr

from monitor.config import ConfigError, KafkaSettings, load_settings
from monitor.sources.kafka import client_options


def test_sasl_ssl_scram_maps_to_aiokafka_options(tmp_path):
    k = KafkaSettings(bootstrap="broker:9093", security_protocol="SASL_SSL",
                      sasl_mechanism="SCRAM-SHA-512", sasl_username="monitor",
                      sasl_password=SecretStr("pw-123"))
    o = client_options(k)
    assert o["security_protocol"] == "SASL_SSL" and o["sasl_mechanism"] == "SCRAM-SHA-512"
    assert o["sasl_plain_username"] == "monitor" and o["sasl_plain_password"] == "pw-123"
    assert o["ssl_context"] is not None
    assert "pw-123" not in repr(k)


def test_plaintext_has_no_tls_or_sasl():
    o = client_options(KafkaSettings(bootstrap="b:9092"))
    assert o == {"bootstrap_servers": "b:9092", "security_protocol": "PLAINTEXT"}


def test_sasl_without_mechanism_or_password_is_a_clear_error():
    with pytest.raises(ValueError, match="sasl_mechanism"):
        client_options(KafkaSettings(bootstrap="b", security_protocol="SASL_PLAINTEXT"))
    with pytest.raises(ValueError, match="SASL_PASSWORD"):
        client_options(KafkaSettings(bootstrap="b", security_protocol="SASL_PLAINTEXT",
                                     sasl_mechanism="PLAIN", sasl_username="u"))


def test_the_password_is_refused_in_the_yaml_and_taken_from_the_environment(tmp_path,
                                                                             monkeypatch):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("kafka:\n  sasl_password: hunter2\n")
    with pytest.raises((ConfigError, ValueError), match="DEALERFLOW_KAFKA__SASL_PASSWORD"):
        load_settings(cfg)
    cfg.write_text("kafka:\n  sasl_username: u\n")
    monkeypatch.setenv("DEALERFLOW_KAFKA__SASL_PASSWORD", "hunter2")
    s = load_settings(cfg)
    assert s.kafka.sasl_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s)
