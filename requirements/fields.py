"""RequirementField: LispIsh text in the database, parsed and checked on save."""

from django.db import models

from requirements.compiled import compile_requirement, validation_error
from requirements.lispish import Expression, LispIshError
from requirements.widgets import RequirementWidget


class RequirementField(models.TextField):
    """A LispIsh requirement; blank means no requirement.

    Text that does not parse or check never reaches the database: forms show
    the error with line, column and caret, and direct saves raise.
    """

    description = "LispIsh requirement"

    def validate(self, value: str, model_instance) -> None:
        super().validate(value, model_instance)
        self.expression(value)

    def pre_save(self, model_instance, add: bool) -> str:
        value = super().pre_save(model_instance, add)
        self.expression(value)
        return value

    @staticmethod
    def expression(value: str) -> Expression | None:
        """Return the compiled requirement, or None for blank text."""
        if not value or not value.strip():
            return None
        try:
            return compile_requirement(value)
        except LispIshError as error:
            raise validation_error(value, error) from None

    def formfield(self, **kwargs):
        kwargs.setdefault("widget", RequirementWidget)
        return super().formfield(**kwargs)
