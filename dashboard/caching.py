"""The app's caches on one Flask-Caching backend (Redis when ATMP_REDIS_URL is set, per process otherwise):
query results (queries/engine/result_cache.py) and read-only callback responses (dashboard/response_cache.py)."""

from __future__ import annotations

import logging

from flask import Flask
from flask_caching import Cache
from flask_compress import Compress

from dashboard.figure_templates import slim_templates
from dashboard.response_cache import init_response_cache
from queries.engine import data_version, result_cache
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse

logger = logging.getLogger(__name__)
LOCAL_ENTRIES = 2000  # per-process cache: oldest entries go first beyond this


def init_cache(server: Flask, settings: Settings, wh: Warehouse) -> result_cache.ResultCache | None:
    """Register the warehouse's result cache (queries/engine/result_cache.py) on a Flask-Caching backend."""
    # gzip for JSON, HTML, CSS and JS (the overview at 21 sites is ~75 KB of JSON, ~5 KB gzipped).
    # Registered before the response cache, so its hook runs after it: the cache keeps plain JSON.
    server.config.update(COMPRESS_ALGORITHM=["gzip"], COMPRESS_LEVEL=6, COMPRESS_MIN_SIZE=1024)
    Compress(server)
    slim_templates()  # ~6 KB less JSON in every figure (dashboard/figure_templates.py)
    if settings.cache_ttl_s <= 0:
        result_cache.register(wh, None)
        logger.info("result cache off (ATMP_CACHE_TTL_S=0)")
        return None
    data_version.ensure(wh)  # a warehouse older than the version table gets it (else: uncached)
    config = {"CACHE_DEFAULT_TIMEOUT": settings.cache_ttl_s}
    if settings.redis_url:
        config |= {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": settings.redis_url}
    else:
        config |= {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": LOCAL_ENTRIES}
    cache = Cache(config=config)
    cache.init_app(server)
    backend = server.extensions["cache"][cache]
    results = result_cache.ResultCache(backend, result_cache.namespace_for(wh), ttl_s=settings.cache_ttl_s,
                                       window_s=settings.cache_window_s, refresh_behind=settings.cache_refresh_behind)
    result_cache.register(wh, results)
    init_response_cache(server, backend, results.namespace, window_s=settings.cache_window_s,
                        live_s=settings.monitoring_refresh_s, ttl_s=settings.cache_ttl_s)
    logger.info("result cache: %s, ttl %s s", "redis" if settings.redis_url else "per process",
                settings.cache_ttl_s)
    return results
