from django.apps import AppConfig


class ChallengesConfig(AppConfig):
    name = "challenges"
    verbose_name = "Challenges and competitions"

    def ready(self) -> None:
        # Connects the receivers that bump the catalog version on admin edits.
        from challenges import access  # noqa: F401
        from challenges.names import editor_warnings
        from requirements.references import register

        register(editor_warnings)
