"""What a send of a template checks, as the Cloud API does before it accepts the message: the
template exists in that language and is approved, and the send's `components` fill exactly
its variables, in its parameter format, within its limits. Reads only (the template);
answers the typed content the message carries, or a `TemplateSendError` (132000 series)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from parley.accounts.models import Business
from parley.message_templates import rules
from parley.message_templates.errors import (
    FormatCharacterPolicyViolated,
    ParameterCountMismatch,
    ParameterFormatMismatch,
    TemplateDisabled,
    TemplateNotInTranslation,
    TemplatePaused,
    TranslatedTextTooLong,
)
from parley.message_templates.models import MessageTemplate
from parley.message_templates.selectors import get_template_by_name
from parley.messaging.content import Template

MAX_PARAMETER = 1024
MEDIA_PARAMETERS = {"IMAGE": "image", "VIDEO": "video", "DOCUMENT": "document"}
_TOO_MANY_SPACES = re.compile(r" {5,}")


def _parameter_text(slot: rules.Slot, param: dict[str, Any], where: str) -> str:
    """The text a parameter puts in the message (a media header's link or id)."""
    kind = param.get("type")
    if slot.media in MEDIA_PARAMETERS:
        wanted = MEDIA_PARAMETERS[slot.media]
        media = param.get(wanted) if kind == wanted else None
        if not isinstance(media, dict):
            raise ParameterFormatMismatch(
                f"{where}: the template's header is {slot.media}: send a parameter of type "
                f'"{wanted}" with an object giving its "link" or "id".'
            )
        ref = media.get("link") or media.get("id")
        if not isinstance(ref, str) or not ref.strip() or len(ref) > 2000:
            raise ParameterFormatMismatch(f'{where}: the {wanted} needs a "link" or an "id".')
        return ref
    if slot.media == "LOCATION":
        location = param.get("location") if kind == "location" else None
        if not isinstance(location, dict):
            raise ParameterFormatMismatch(
                f'{where}: the template\'s header is LOCATION: send a parameter of type "location".'
            )
        return str(
            location.get("name") or f"{location.get('latitude')},{location.get('longitude')}"
        )
    if kind == "text":
        text = param.get("text")
    elif kind in ("currency", "date_time"):
        value = param.get(kind)
        text = value.get("fallback_value") if isinstance(value, dict) else None
    elif kind == "coupon_code" and slot.sub_type == "copy_code":
        text = param.get("coupon_code")
    else:
        raise ParameterFormatMismatch(
            f"{where}: a parameter of type {str(kind)[:20]!r} does not fit this template; send "
            '"text" parameters.'
        )
    if not isinstance(text, str):
        raise ParameterFormatMismatch(f"{where}: the parameter's text must be a string.")
    if not text.strip():
        raise ParameterCountMismatch(f"{where}: a parameter is empty.")
    if len(text) > MAX_PARAMETER:
        raise TranslatedTextTooLong(f"{where}: a parameter is longer than {MAX_PARAMETER} chars.")
    if slot.kind != "button" and ("\n" in text or "\t" in text or _TOO_MANY_SPACES.search(text)):
        raise FormatCharacterPolicyViolated(
            f"{where}: parameter text cannot have new-line or tab characters or more than 4 "
            "consecutive spaces."
        )
    return text


def _values(
    slot: rules.Slot, params: list[Any], parameter_format: str, where: str
) -> dict[str, str]:
    """The variables' values from the send's parameters of one component."""
    if not all(isinstance(p, dict) for p in params):
        raise ParameterFormatMismatch(f"{where}: parameters must be a list of objects.")
    if len(params) != len(slot.names):
        raise ParameterCountMismatch(
            f"{where}: the template expects {len(slot.names)} parameter"
            f"{'s' if len(slot.names) != 1 else ''}, the request gave {len(params)}."
        )
    named = parameter_format == "NAMED" and slot.kind != "button" and not slot.media
    if not named:
        if any("parameter_name" in p for p in params):
            raise ParameterFormatMismatch(
                f"{where}: the template uses positional parameters: send them in order, "
                "without parameter_name."
            )
        return {
            name: _parameter_text(slot, p, where)
            for name, p in zip(slot.names, params, strict=True)
        }
    values: dict[str, str] = {}
    for param in params:
        name = param.get("parameter_name")
        if not isinstance(name, str):
            raise ParameterFormatMismatch(
                f"{where}: the template uses named parameters: give each one's parameter_name."
            )
        if name not in slot.names or name in values:
            raise ParameterFormatMismatch(
                f"{where}: parameter_name {name[:60]!r} is not one of the template's: "
                + ", ".join(slot.names)
                + "."
            )
        values[name] = _parameter_text(slot, param, where)
    return values


def _sent_components(components: Any) -> dict[tuple[str, int], list[Any]]:
    """The send's components by (type, button index)."""
    if components is None:
        return {}
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise ParameterFormatMismatch("components must be a list of objects.")
    found: dict[tuple[str, int], list[Any]] = {}
    for component in components:
        kind = str(component.get("type", "")).lower()
        if kind not in ("header", "body", "button"):
            raise ParameterFormatMismatch(
                f"component type {kind[:20]!r} is not header, body or button."
            )
        index = 0
        if kind == "button":
            raw = component.get("index", 0)
            text = str(raw)
            if isinstance(raw, bool) or not text.isascii() or not text.isdigit() or len(text) > 2:
                raise ParameterFormatMismatch("a button component needs its index, 0 to 9.")
            index = int(text)
        params = component.get("parameters", [])
        if not isinstance(params, list):
            raise ParameterFormatMismatch(f"{kind} parameters must be a list.")
        if (kind, index) in found:
            raise ParameterFormatMismatch(f"the {kind} component is given twice.")
        found[(kind, index)] = params
    return found


def _usable(template: MessageTemplate | None, name: str, language: str) -> MessageTemplate:
    if template is None:
        raise TemplateNotInTranslation(
            f"template name ({name[:512]}) does not exist in {language[:15]}"
        )
    status = template.status
    if status == MessageTemplate.Status.PAUSED:
        raise TemplatePaused(f"template {name} ({language}) is paused and cannot be sent.")
    if status == MessageTemplate.Status.DISABLED:
        raise TemplateDisabled(f"template {name} ({language}) is disabled and cannot be sent.")
    if status != MessageTemplate.Status.APPROVED:
        raise TemplateNotInTranslation(
            f"template name ({name}) does not exist in {language}: its content in this "
            f"language is {status}, not APPROVED."
        )
    return template


def resolve_template_send(
    business: Business, name: str, language: str, components: list[dict[str, Any]]
) -> Template:
    """The content of a send of template `name` in `language` with these `components` (the
    Cloud API's send shape), or the Cloud API's error. `parameters` are the parameter texts
    in template order (header, body, then buttons)."""
    found = None
    if (
        isinstance(name, str)
        and isinstance(language, str)
        and rules.NAME_RE.fullmatch(name)
        and rules.LANGUAGE_RE.fullmatch(language)
    ):
        found = get_template_by_name(business, name, language)
    template = _usable(found, str(name)[:512], str(language)[:15])
    sent = _sent_components(components)
    parameter_format = template.parameter_format
    slots = rules.slots_of(template.components, parameter_format)
    expected = {(s.kind, s.index) for s in slots}
    for kind, index in sent:
        if (kind, index) not in expected and sent[(kind, index)]:
            where = f"button {index}" if kind == "button" else kind
            if kind == "button" and _button_type(template.components, index) == "QUICK_REPLY":
                continue  # a quick reply's payload: not a variable of the template
            raise ParameterCountMismatch(
                f"{where}: the template expects no parameters there, the request gave "
                f"{len(sent[(kind, index)])}."
            )
    parameters: list[str] = []
    header_text = rules.text_of(template.components, "HEADER")
    body_text = rules.text_of(template.components, "BODY")
    for slot in slots:
        where = f"button {slot.index}" if slot.kind == "button" else slot.kind
        values = _values(slot, sent.get((slot.kind, slot.index), []), parameter_format, where)
        ordered = [values[n] for n in slot.names]
        parameters += ordered
        if slot.kind == "header" and not slot.media:
            header_text = rules.render(slot.text, values)
            if len(header_text) > rules.MAX_HEADER:
                raise TranslatedTextTooLong(
                    f"header: the header with its parameters is {len(header_text)} characters; "
                    f"at most {rules.MAX_HEADER}."
                )
        elif slot.kind == "body":
            body_text = rules.render(slot.text, values)
            if len(body_text) > rules.MAX_BODY:
                raise TranslatedTextTooLong(
                    f"body: the body with its parameters is {len(body_text)} characters; at "
                    f"most {rules.MAX_BODY}."
                )
    return Template(
        name=template.name,
        language=template.language,
        category=template.category.lower(),
        parameters=tuple(parameters),
        header=header_text,
        body=body_text,
        footer=rules.text_of(template.components, "FOOTER"),
    )


def _button_type(components: list[dict[str, Any]], index: int) -> str:
    for component in components:
        buttons = component.get("buttons", []) if component.get("type") == "BUTTONS" else []
        if index < len(buttons):
            return str(buttons[index].get("type", ""))
    return ""


def resolve_template_object(business: Business, template: Mapping[str, Any]) -> Template:
    """`resolve_template_send` for the Cloud API's send body's `template` object:
    `{"name", "language": {"code"}, "components"?}` (a bare language code is taken too)."""
    name = template.get("name")
    language = template.get("language")
    code = language.get("code") if isinstance(language, Mapping) else language
    components = template.get("components", [])
    if not isinstance(name, str) or not isinstance(code, str):
        raise TemplateNotInTranslation(
            'template needs "name" and "language": {"code": "en_US"} as strings'
        )
    return resolve_template_send(business, name, code, components)
