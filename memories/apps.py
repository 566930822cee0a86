from django.apps import AppConfig


class MemoriesConfig(AppConfig):
    name = "memories"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from memories import checks  # noqa: F401  (registers the system checks)
        from memories.search import indexing, search_index

        search_index.fetcher_register(lambda snapshot_id: indexing.index_fetch(snapshot_id=snapshot_id).outcome)
