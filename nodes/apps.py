from django.apps import AppConfig


class NodesConfig(AppConfig):
    name = "nodes"
    verbose_name = "Nodes and tasks"

    def ready(self) -> None:
        # challenges sits below us: it signals a rescan, we refresh the nodes.
        from challenges.signals import catalog_rescanned
        from nodes.services.tasks import on_catalog_rescanned

        catalog_rescanned.connect(on_catalog_rescanned, dispatch_uid="nodes-rescan")
