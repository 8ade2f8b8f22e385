"""Metric connectors: mining rigs, pools, exchange portfolios, any JSON API.

``base`` (the framework), ``registry`` (the types), ``safety`` (SSRF guard, timeouts, size
limits), ``validation`` (per-sample checks), ``derived`` (derived metrics), ``runner`` (one
run of one configuration). Types: ``cgminer``, ``pool``, ``exchange``, ``http_json``.
"""
