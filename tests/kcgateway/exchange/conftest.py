from tests.helpers.redis import redis_prefix  # noqa: F401
