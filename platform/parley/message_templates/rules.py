"""The rules of a message template as the Cloud API checks them when a template is created
or edited, and the shape a send must fill: pure Python (no Django), data in, data out.

Components follow Meta's JSON: HEADER (TEXT / IMAGE / VIDEO / DOCUMENT / LOCATION), BODY,
FOOTER and BUTTONS, with their `example`s. Variables are positional (`{{1}}`, `{{2}}`, …,
numbered from 1 without gaps) or named (`{{first_name}}`), as the template's
`parameter_format` says. `check_components` returns the components normalised (types upper
case, only the keys Meta knows); `slots_of` says which parameters a send must give."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

NAME_RE = re.compile(r"[a-z0-9_]{1,512}", re.ASCII)
LANGUAGE_RE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?", re.ASCII)
NAME_HINT = "lowercase letters, digits and underscores, at most 512 characters"
LANGUAGE_HINT = "a language code such as en, en_US or pt_BR"

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
PARAMETER_FORMATS = ("POSITIONAL", "NAMED")
# Meta's `rejected_reason` values.
REJECTION_REASONS = (
    "ABUSIVE_CONTENT",
    "INCORRECT_CATEGORY",
    "INVALID_FORMAT",
    "PROMOTIONAL",
    "SCAM",
    "TAG_CONTENT_MISMATCH",
)

MAX_HEADER = 60
MAX_BODY = 1024
MAX_FOOTER = 60
MAX_BUTTON_TEXT = 25
MAX_BUTTONS = 10
MAX_URL = 2000
MAX_PHONE = 20
MAX_EXAMPLE = 1024
MAX_COUPON = 15
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
COMPONENT_ORDER = ("HEADER", "BODY", "FOOTER", "BUTTONS")
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP")
OTP_TYPES = ("COPY_CODE", "ONE_TAP", "ZERO_TAP")

AUTH_BODY = "*{{1}}* is your verification code."
AUTH_SECURITY = " For your security, do not share this code."

_VARIABLE = re.compile(r"\{\{([^{}]*)\}\}")
_POSITIONAL = re.compile(r"[1-9][0-9]{0,2}", re.ASCII)
_NAMED = re.compile(r"[a-z][a-z0-9_]{0,99}", re.ASCII)
_PHONE = re.compile(r"\+?[0-9]{4,19}", re.ASCII)

# Meta's subcode for a body that starts or ends with a variable.
SUBCODE_VARIABLE_AT_EDGE = 2388299


class RuleError(ValueError):
    """The template breaks a rule; the message says which and how to fix it."""

    def __init__(self, message: str, *, subcode: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.subcode = subcode


# -- variables ---------------------------------------------------------------------------


def variables(text: str, parameter_format: str, where: str) -> list[str]:
    """The distinct variables of `text` in order of first appearance; positional ones must
    be numbered 1..n without gaps."""
    found: list[str] = []
    for match in _VARIABLE.finditer(text):
        inner = match.group(1)
        if parameter_format == "NAMED":
            if _POSITIONAL.fullmatch(inner):
                raise RuleError(
                    f"{where} uses the positional variable {{{{{inner}}}}} but parameter_format "
                    "is NAMED: use names such as {{first_name}}, or set parameter_format to "
                    "POSITIONAL."
                )
            if not _NAMED.fullmatch(inner):
                raise RuleError(
                    f"{where} has an invalid variable {{{{{inner[:40]}}}}}: a named variable is "
                    "lowercase letters, digits and underscores, starting with a letter."
                )
        else:
            if _NAMED.fullmatch(inner):
                raise RuleError(
                    f"{where} uses the named variable {{{{{inner}}}}} but parameter_format is "
                    "POSITIONAL: use {{1}}, {{2}}, …, or set parameter_format to NAMED."
                )
            if not _POSITIONAL.fullmatch(inner):
                raise RuleError(
                    f"{where} has an invalid variable {{{{{inner[:40]}}}}}: positional "
                    "variables are {{1}}, {{2}}, …"
                )
        if inner not in found:
            found.append(inner)
    rest = _VARIABLE.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise RuleError(f"{where} has unbalanced braces: write variables as {{{{1}}}}.")
    if parameter_format != "NAMED" and found:
        numbers = sorted(int(v) for v in found)
        if numbers != list(range(1, len(numbers) + 1)):
            raise RuleError(
                f"{where} variables must be numbered in sequence from {{{{1}}}}: found "
                + ", ".join(f"{{{{{n}}}}}" for n in numbers)
                + "."
            )
        found.sort(key=int)
    return found


def render(text: str, values: dict[str, str]) -> str:
    """`text` with each variable replaced by its value."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


# -- helpers -----------------------------------------------------------------------------


def _text(data: dict[str, Any], key: str, where: str, *, limit: int, required: bool = True) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise RuleError(f"{where} needs `{key}`.")
        return ""
    if not isinstance(value, str):
        raise RuleError(f"{where} `{key}` must be a string.")
    if required and not value.strip():
        raise RuleError(f"{where} `{key}` must not be blank.")
    if len(value) > limit:
        raise RuleError(f"{where} `{key}` is longer than {limit} characters ({len(value)}).")
    return value


def _example_object(data: dict[str, Any], where: str) -> dict[str, Any]:
    example = data.get("example")
    if example is None:
        return {}
    if not isinstance(example, dict):
        raise RuleError(f"{where} `example` must be an object.")
    return example


def _example_value(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{where}: every example value must be a non-blank string.")
    if len(value) > MAX_EXAMPLE:
        raise RuleError(f"{where}: an example value is longer than {MAX_EXAMPLE} characters.")
    return value


def _named_examples(
    example: dict[str, Any], key: str, names: list[str], where: str
) -> list[dict[str, str]]:
    raw = example.get(key)
    if names and raw is None:
        raise RuleError(
            f"{where} has the variables "
            + ", ".join(f"{{{{{n}}}}}" for n in names)
            + f": give an example of each in example.{key} "
            '([{"param_name": "…", "example": "…"}]).'
        )
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(p, dict) for p in raw):
        raise RuleError(f"{where} example.{key} must be a list of objects.")
    given: dict[str, str] = {}
    for item in raw:
        param = item.get("param_name")
        if not isinstance(param, str) or not _NAMED.fullmatch(param):
            raise RuleError(f"{where} example.{key}: param_name must be a variable's name.")
        if param in given:
            raise RuleError(f"{where} example.{key} names {param} twice.")
        given[param] = _example_value(item.get("example"), f"{where} example.{key}")
    if set(given) != set(names):
        missing = [n for n in names if n not in given]
        extra = [n for n in given if n not in names]
        detail = []
        if missing:
            detail.append("missing " + ", ".join(missing))
        if extra:
            detail.append("not in the text: " + ", ".join(extra))
        raise RuleError(
            f"{where} example.{key} does not match the variables ({'; '.join(detail)})."
        )
    return [{"param_name": n, "example": given[n]} for n in names]


def _positional_examples(values: Any, count: int, where: str, key: str) -> list[str]:
    if not isinstance(values, list) or len(values) != count:
        raise RuleError(
            f"{where} has {count} variable{'s' if count != 1 else ''}: example.{key} must give "
            f"exactly {count} example value{'s' if count != 1 else ''}."
        )
    return [_example_value(v, f"{where} example.{key}") for v in values]


# -- components --------------------------------------------------------------------------


def _header(data: dict[str, Any], parameter_format: str) -> dict[str, Any]:
    where = "HEADER"
    fmt = data.get("format", "TEXT")
    if not isinstance(fmt, str) or fmt.upper() not in HEADER_FORMATS:
        raise RuleError(f"HEADER format must be one of {', '.join(HEADER_FORMATS)}.")
    fmt = fmt.upper()
    out: dict[str, Any] = {"type": "HEADER", "format": fmt}
    example = _example_object(data, where)
    if fmt == "TEXT":
        text = _text(data, "text", where, limit=MAX_HEADER)
        names = variables(text, parameter_format, where)
        if len(names) > 1:
            raise RuleError("HEADER text may have at most one variable.")
        out["text"] = text
        if names and parameter_format == "NAMED":
            out["example"] = {
                "header_text_named_params": _named_examples(
                    example, "header_text_named_params", names, where
                )
            }
        elif names:
            out["example"] = {
                "header_text": _positional_examples(
                    example.get("header_text"), 1, where, "header_text"
                )
            }
    elif fmt in MEDIA_FORMATS:
        if data.get("text"):
            raise RuleError(f"A {fmt} HEADER has no text.")
        handles = example.get("header_handle")
        if (
            not isinstance(handles, list)
            or len(handles) != 1
            or not isinstance(handles[0], str)
            or not handles[0].strip()
            or len(handles[0]) > MAX_URL
        ):
            raise RuleError(
                f"A {fmt} HEADER needs example.header_handle: a list with one uploaded media "
                "handle or URL."
            )
        out["example"] = {"header_handle": [handles[0]]}
    elif data.get("text"):  # LOCATION
        raise RuleError("A LOCATION HEADER has no text.")
    return out


def _body(data: dict[str, Any], parameter_format: str) -> dict[str, Any]:
    where = "BODY"
    text = _text(data, "text", where, limit=MAX_BODY)
    names = variables(text, parameter_format, where)
    stripped = text.strip()
    if names and (stripped.startswith("{{") or stripped.endswith("}}")):
        raise RuleError(
            "Variables can't be at the start or end of the template: BODY text must begin and "
            "end with fixed text.",
            subcode=SUBCODE_VARIABLE_AT_EDGE,
        )
    out: dict[str, Any] = {"type": "BODY", "text": text}
    example = _example_object(data, where)
    if names and parameter_format == "NAMED":
        out["example"] = {
            "body_text_named_params": _named_examples(
                example, "body_text_named_params", names, where
            )
        }
    elif names:
        rows = example.get("body_text")
        if not isinstance(rows, list) or len(rows) != 1:
            raise RuleError(
                f"BODY has {len(names)} variable{'s' if len(names) != 1 else ''}: give their "
                'examples as example.body_text, e.g. [["Mark", "FALL25"]].'
            )
        out["example"] = {
            "body_text": [_positional_examples(rows[0], len(names), where, "body_text[0]")]
        }
    return out


def _footer(data: dict[str, Any], parameter_format: str) -> dict[str, Any]:
    text = _text(data, "text", "FOOTER", limit=MAX_FOOTER)
    if _VARIABLE.search(text) or "{{" in text:
        raise RuleError("FOOTER text cannot have variables.")
    return {"type": "FOOTER", "text": text}


def _button(data: Any, position: int) -> dict[str, Any]:
    where = f"BUTTONS[{position}]"
    if not isinstance(data, dict):
        raise RuleError(f"{where} must be an object.")
    kind = data.get("type")
    if not isinstance(kind, str) or kind.upper() not in BUTTON_TYPES:
        raise RuleError(f"{where} type must be one of {', '.join(BUTTON_TYPES)}.")
    kind = kind.upper()
    if kind == "QUICK_REPLY":
        return {"type": kind, "text": _text(data, "text", where, limit=MAX_BUTTON_TEXT)}
    if kind == "PHONE_NUMBER":
        text = _text(data, "text", where, limit=MAX_BUTTON_TEXT)
        phone = _text(data, "phone_number", where, limit=MAX_PHONE)
        if not _PHONE.fullmatch(phone):
            raise RuleError(f"{where} phone_number must be a phone number such as +15550051234.")
        return {"type": kind, "text": text, "phone_number": phone}
    if kind == "URL":
        text = _text(data, "text", where, limit=MAX_BUTTON_TEXT)
        url = _text(data, "url", where, limit=MAX_URL)
        if not url.startswith(("https://", "http://")):
            raise RuleError(f"{where} url must start with https:// or http://.")
        out: dict[str, Any] = {"type": kind, "text": text, "url": url}
        names = variables(url, "POSITIONAL", where)
        if names:
            if names != ["1"] or not url.endswith("{{1}}"):
                raise RuleError(f"{where} url may have one variable, {{{{1}}}}, at its end.")
            raw = data.get("example")
            values = [raw] if isinstance(raw, str) else raw
            out["example"] = _positional_examples(values, 1, where, "example")
        return out
    if kind == "COPY_CODE":
        example = data.get("example")
        if not isinstance(example, str) or not example.strip() or len(example) > MAX_COUPON:
            raise RuleError(f"{where} COPY_CODE needs an example code of 1 to {MAX_COUPON} chars.")
        return {"type": kind, "text": "Copy offer code", "example": example}
    # OTP (authentication templates only; checked by the caller)
    otp = data.get("otp_type")
    if not isinstance(otp, str) or otp.upper() not in OTP_TYPES:
        raise RuleError(f"{where} otp_type must be one of {', '.join(OTP_TYPES)}.")
    text = _text(data, "text", where, limit=MAX_BUTTON_TEXT, required=False) or "Copy code"
    return {"type": kind, "otp_type": otp.upper(), "text": text}


def _buttons(data: dict[str, Any]) -> dict[str, Any]:
    raw = data.get("buttons")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BUTTONS:
        raise RuleError(f"BUTTONS needs `buttons`: a list of 1 to {MAX_BUTTONS} buttons.")
    buttons = [_button(b, i) for i, b in enumerate(raw)]
    kinds = [b["type"] for b in buttons]
    for kind, most in (("URL", 2), ("PHONE_NUMBER", 1), ("COPY_CODE", 1), ("OTP", 1)):
        if kinds.count(kind) > most:
            raise RuleError(f"A template may have at most {most} {kind} button(s).")
    return {"type": "BUTTONS", "buttons": buttons}


def _by_type(components: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(components, list) or not components:
        raise RuleError("components must be a non-empty list of objects.")
    found: dict[str, dict[str, Any]] = {}
    for item in components:
        if not isinstance(item, dict):
            raise RuleError("components must be a list of objects.")
        kind = item.get("type")
        if not isinstance(kind, str) or kind.upper() not in COMPONENT_ORDER:
            raise RuleError(f"A component's type must be one of {', '.join(COMPONENT_ORDER)}.")
        kind = kind.upper()
        if kind in found:
            raise RuleError(f"components has more than one {kind}.")
        found[kind] = item
    if "BODY" not in found:
        raise RuleError("components needs a BODY.")
    return found


def _authentication(found: dict[str, dict[str, Any]], parameter_format: str) -> list[dict]:
    if parameter_format != "POSITIONAL":
        raise RuleError("AUTHENTICATION templates use parameter_format POSITIONAL.")
    if "HEADER" in found:
        raise RuleError("AUTHENTICATION templates have no HEADER.")
    body = found["BODY"]
    if body.get("text"):
        raise RuleError(
            "AUTHENTICATION templates have a preset BODY text: send only "
            "add_security_recommendation (true or false)."
        )
    security = body.get("add_security_recommendation", False)
    if not isinstance(security, bool):
        raise RuleError("add_security_recommendation must be true or false.")
    out: list[dict[str, Any]] = [
        {
            "type": "BODY",
            "text": AUTH_BODY + (AUTH_SECURITY if security else ""),
            "add_security_recommendation": security,
        }
    ]
    if "FOOTER" in found:
        minutes = found["FOOTER"].get("code_expiration_minutes")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 90:
            raise RuleError("An AUTHENTICATION FOOTER needs code_expiration_minutes from 1 to 90.")
        out.append(
            {
                "type": "FOOTER",
                "text": f"This code expires in {minutes} minutes.",
                "code_expiration_minutes": minutes,
            }
        )
    buttons = _buttons(found["BUTTONS"]) if "BUTTONS" in found else None
    if buttons is None or [b["type"] for b in buttons["buttons"]] != ["OTP"]:
        raise RuleError("AUTHENTICATION templates need BUTTONS with exactly one OTP button.")
    out.append(buttons)
    return out


def check_components(category: str, parameter_format: str, components: Any) -> list[dict]:
    """The components normalised, or RuleError naming the first broken rule."""
    if category not in CATEGORIES:
        raise RuleError(f"category must be one of {', '.join(CATEGORIES)}.")
    if parameter_format not in PARAMETER_FORMATS:
        raise RuleError(f"parameter_format must be one of {', '.join(PARAMETER_FORMATS)}.")
    found = _by_type(components)
    if category == "AUTHENTICATION":
        return _authentication(found, parameter_format)
    out: list[dict[str, Any]] = []
    if "HEADER" in found:
        out.append(_header(found["HEADER"], parameter_format))
    out.append(_body(found["BODY"], parameter_format))
    if "FOOTER" in found:
        out.append(_footer(found["FOOTER"], parameter_format))
    if "BUTTONS" in found:
        buttons = _buttons(found["BUTTONS"])
        if any(b["type"] == "OTP" for b in buttons["buttons"]):
            raise RuleError("OTP buttons belong to AUTHENTICATION templates.")
        out.append(buttons)
    return out


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise RuleError(f"name must be {NAME_HINT}.")
    return name


def check_language(language: Any) -> str:
    if not isinstance(language, str) or not LANGUAGE_RE.fullmatch(language):
        raise RuleError(f"language must be {LANGUAGE_HINT}.")
    return language


# -- what a send fills -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Slot:
    """One component of a send: its variables in order and the text they fill."""

    kind: str  # "header" | "body" | "button"
    names: tuple[str, ...] = ()
    text: str = ""
    media: str = ""  # the header's format when it is not TEXT
    index: int = 0  # a button's position
    sub_type: str = ""  # a button's: "url", "copy_code", "quick_reply"


def slots_of(components: list[dict[str, Any]], parameter_format: str) -> list[Slot]:
    """The parameters a send of these (stored, normalised) components must give."""
    slots: list[Slot] = []
    for component in components:
        kind = component.get("type")
        if kind == "HEADER":
            fmt = component.get("format", "TEXT")
            if fmt == "TEXT":
                text = str(component.get("text", ""))
                slots.append(
                    Slot("header", tuple(variables(text, parameter_format, "HEADER")), text)
                )
            else:
                slots.append(Slot("header", ("1",), media=fmt))
        elif kind == "BODY":
            text = str(component.get("text", ""))
            slots.append(Slot("body", tuple(variables(text, parameter_format, "BODY")), text))
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons", [])):
                if button.get("type") == "URL" and "{{1}}" in str(button.get("url", "")):
                    slots.append(Slot("button", ("1",), str(button["url"]), index=index,
                                      sub_type="url"))  # fmt: skip
                elif button.get("type") == "OTP":
                    slots.append(Slot("button", ("1",), index=index, sub_type="url"))
                elif button.get("type") == "COPY_CODE":
                    slots.append(Slot("button", ("1",), index=index, sub_type="copy_code"))
    return slots


def text_of(components: list[dict[str, Any]], kind: str) -> str:
    """The text of the component of type `kind` ("" when there is none or it has none)."""
    for component in components:
        if component.get("type") == kind:
            return str(component.get("text", ""))
    return ""
