"""The store's tables, public for the platform (harness.server.repo), which keeps its
organisations, users, tokens, targets, jobs and certificates in the same database as the
runs. Migrations (harness/store/migrations) change them; nothing else defines them."""

from ._schema import (
           audit,
           certificates,
           documents,
           jobs,
           orgs,
           results,
           reviews,
           runs,
           shards,
           targets,
           tokens,
           users,
)

__all__ = ["audit", "certificates", "documents", "jobs", "orgs", "results", "reviews", "runs", "shards", "targets",
           "tokens", "users"]
