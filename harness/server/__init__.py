"""The certification platform: ``harness serve`` and ``harness worker``.

A FastAPI service that many applicant companies submit to and a certification body
runs: organisations, users with roles, API tokens (kept as hashes), targets with their
keys encrypted at rest, queued runs executed by workers (threads in the server, or
Celery workers on other machines), reports, decisions and signed certificates, all of
it recorded in the store's hash-chained audit log.

Modules:

- :mod:`.config`: the server's settings (:class:`ServerConfig`), from options and env
- :mod:`.vault`: API tokens and their hashes; the key that encrypts target secrets
- :mod:`.repo`: the platform's tables, every read scoped to the caller's organisation
- :mod:`.jobs`: asking for a run, executing one shard of it, finishing, cancelling
- :mod:`.workers`: the embedded worker threads and the Celery app and task
- :mod:`.certificates`: signed certificates and their public verification
- :mod:`.api`, :mod:`.pages`, :mod:`.app`: the HTTP API, the web pages, the app
"""
