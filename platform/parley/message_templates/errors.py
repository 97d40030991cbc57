"""The errors of templates: the management endpoints' (code 100 with Meta's subcodes) and the
ones a send answers (the Cloud API's 132000 series, with `error_data.details`)."""

from __future__ import annotations

from typing import Any

from parley.core.errors import InvalidParameter, ParleyError

# Meta's subcode for a template name that already has content in the language.
SUBCODE_DUPLICATE_LANGUAGE = 2388024


class DuplicateTemplate(InvalidParameter):
    """Code 100, subcode 2388024: the name already has content in this language."""

    subcode = SUBCODE_DUPLICATE_LANGUAGE


class TemplateRuleBroken(InvalidParameter):
    """Code 100: the template breaks a rule (its subcode when Meta has one)."""

    def __init__(self, message: str, *, subcode: int | None = None, field: str = "") -> None:
        super().__init__(message, field=field or "components")
        self.subcode = subcode


# -- sending -------------------------------------------------------------------------------


class TemplateSendError(ParleyError):
    """A send of a template the Cloud API refuses: the title is Meta's, `details` says what
    to fix."""

    http_status = 400
    title = "Template send failed"

    def __init__(self, details: str) -> None:
        super().__init__(f"(#{self.code}) {self.title}")
        self.details = details

    def error_data(self) -> dict[str, Any] | None:
        return {"messaging_product": "whatsapp", "details": self.details}


class ParameterCountMismatch(TemplateSendError):
    code = 132000
    title = "Number of parameters does not match the expected number of params"


class TemplateNotInTranslation(TemplateSendError):
    code = 132001
    title = "Template name does not exist in the translation"


class TranslatedTextTooLong(TemplateSendError):
    code = 132005
    title = "Translated text too long"


class FormatCharacterPolicyViolated(TemplateSendError):
    code = 132007
    title = "Template Format Character Policy Violated"


class ParameterFormatMismatch(TemplateSendError):
    code = 132012
    title = "Parameter format does not match format in the created template"


class TemplatePaused(TemplateSendError):
    code = 132015
    title = "Template is Paused"


class TemplateDisabled(TemplateSendError):
    code = 132016
    title = "Template is disabled"
