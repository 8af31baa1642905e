from tests.broker import kafka_bootstrap  # noqa: F401
