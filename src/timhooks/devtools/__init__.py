"""Developer tools around webhooks: build and send one (``timhooks trigger``), pass them on to
an app under development (``timhooks listen --forward-to``), audit an app's endpoint
(``timhooks check``), and the pytest fixtures (``timhooks.testing``).

Modules: ``samples`` (a realistic body per command), ``bodies`` (bodies from a command's model,
``--set`` overrides), ``webhook`` (Tencent's query, one request through ``HttpPool``, what its
answer means), ``rest`` (a REST API client), ``scenarios`` (the REST calls that make ``timhooks
serve`` send each of its webhooks), ``forward`` and ``checks``.
"""
