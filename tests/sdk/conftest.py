"""The nodes tests' Docker engines, catalogs and Celery worker, for the
client's end-to-end tests of background work."""

from tests.nodes.conftest import (  # noqa: F401  (fixtures)
    alpha,
    beta,
    broker_url,
    catalog,
    daemons,
    registry,
    registry_image,
    start_worker,
)
