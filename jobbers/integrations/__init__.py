"""Optional integrations, each a ``jobbers.hooks.Hook`` that imports its library lazily.

``jobbers.integrations.sentry`` (``pip install jobbers[sentry]``) and
``jobbers.integrations.otel`` (``pip install jobbers[otel]``). Nothing here is imported by
the core: a worker that registers neither never loads ``sentry_sdk`` or ``opentelemetry``.
"""
