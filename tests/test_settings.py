"""Settings come from the environment; production-like settings pass Django's deploy checks."""
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from respect_site.env import env_bool, env_int, env_list

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-" + "x7Qp9vR2mZ5tW8yB4nC6dF1gH3jK0LsA" * 2,
    "ALLOWED_HOSTS": "respect.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://respect.example.org",
    "DATABASE_URL": "postgres://respect@db.internal:5432/respect",
    "REDIS_URL": "redis://cache.internal:6379/0",
}


def manage(*args, env):
    dropped = {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run([sys.executable, "manage.py", *args], capture_output=True, text=True, env={**base, **env})


def test_check_deploy_passes_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_secret_key_is_required_when_debug_is_off():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_bad_database_url_is_a_clear_error():
    result = manage("check", env={"DATABASE_URL": "nonsense://"})
    assert result.returncode != 0 and "DATABASE_URL" in result.stderr


def test_production_settings_use_redis_and_no_eager_celery():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL, "
        "s.DATABASES['default']['ENGINE'])"
    )
    env = {**os.environ, **PRODUCTION, "DJANGO_SETTINGS_MODULE": "respect_site.settings"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.split()
    assert out == ["channels_redis.core.RedisChannelLayer", "False", PRODUCTION["REDIS_URL"],
                   "django.db.backends.postgresql"]


def test_embedded_default_needs_no_services(settings):
    if os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL"):
        pytest.skip("this run points at real services")
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert settings.CELERY_TASK_ALWAYS_EAGER is True


def test_env_helpers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_BOOL"):
        env_bool("X_BOOL", False)
    monkeypatch.setenv("X_BOOL", "Off")
    assert env_bool("X_BOOL", True) is False
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="X_INT"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_LIST", " a, ,b ")
    assert env_list("X_LIST", []) == ["a", "b"]


def test_a_connection_pool_for_postgresql_and_its_conflicts_are_refused():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['OPTIONS']['pool']['max_size'], s.GAME_DB_ONE_THREAD)"
    )
    env = {**os.environ, **PRODUCTION, "DJANGO_SETTINGS_MODULE": "respect_site.settings",
           "DB_POOL_MAX_SIZE": "16", "GAME_DB_ONE_THREAD": "0"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.stdout.split() == ["16", "False"], result.stderr
    result = manage("check", env={**PRODUCTION, "DB_POOL_MAX_SIZE": "16", "DB_CONN_MAX_AGE": "60"})
    assert result.returncode != 0 and "exclude each other" in result.stderr
    result = manage("check", env={"DB_POOL_MAX_SIZE": "-1"})
    assert result.returncode != 0 and "DB_POOL_MAX_SIZE must be >= 0" in result.stderr


def test_the_web_processes_switch_interval_comes_from_the_environment():
    """WEB_SWITCH_INTERVAL_US sets how long a thread of an ASGI web process may hold the interpreter
    lock (respect_site/asgi.py); unset, Python's own interval stays; a negative value is refused."""
    code = "import sys; import respect_site.asgi; print(round(sys.getswitchinterval() * 1_000_000))"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "respect_site.settings", "GAME_HEARTBEAT": "0"}
    env.pop("WEB_SWITCH_INTERVAL_US", None)
    default = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert default.stdout.split() == ["5000"], default.stderr
    shorter = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**env, "WEB_SWITCH_INTERVAL_US": "500"})
    assert shorter.stdout.split() == ["500"], shorter.stderr
    result = manage("check", env={"WEB_SWITCH_INTERVAL_US": "-1"})
    assert result.returncode != 0 and "WEB_SWITCH_INTERVAL_US=-1 must be 0" in result.stderr
