from django.apps import AppConfig


class ExtensionApiConfig(AppConfig):
    name = "extension_api"
    verbose_name = "Browser extension"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from extension_api import checks  # noqa: F401  (registers the system checks)
