"""Redis AUTH and TLS settings reach the client (no server needed: the connection
arguments are read off the pool), and the password never shows in the sink's repr or
stats."""

from pydantic import SecretStr

from monitor.config import RedisSettings
from monitor.sinks.redis_sink import RedisSink


def test_acl_user_password_and_tls_ca_reach_the_client(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = RedisSettings(url="rediss://cache.example:6380/2", username="monitor",
                      password=SecretStr("s3cret-pw"), ssl_ca_certs=str(ca))
    sink = RedisSink(s)
    kw = sink.client.connection_pool.connection_kwargs
    assert kw["username"] == "monitor" and kw["password"] == "s3cret-pw"
    assert kw["ssl_ca_certs"] == str(ca)
    assert sink.client.connection_pool.connection_class.__name__ == "SSLConnection"
    assert "s3cret-pw" not in repr(sink) and "s3cret-pw" not in str(sink.stats())


def test_plain_url_takes_no_tls_arguments():
    sink = RedisSink(RedisSettings(url="redis://127.0.0.1:6379/0", ssl_ca_certs="/x.pem"))
    assert "ssl_ca_certs" not in sink.client.connection_pool.connection_kwargs
