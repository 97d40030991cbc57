"""Media on the Cloud API paths:

    POST   /{version}/{phone_number_id}/media   multipart: file, type, messaging_product -> {"id"}
    GET    /{version}/{media_id}                {"messaging_product", "url", "mime_type",
                                                 "sha256", "file_size", "id"}  (GraphNodeView)
    DELETE /{version}/{media_id}                {"success": true}             (GraphNodeView)
    GET    /parley/v1/media/{media_id}/download the bytes (the `url` above, valid 5 minutes
                                                 of simulated time, with the same token)

Thin: parse, authorise, call one action, render Meta's shapes. The upload is the one API
view that parses multipart, bounded to the largest file a kind takes plus the form's
overhead (413 beyond)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.core import signing
from django.http import StreamingHttpResponse
from django.utils.crypto import constant_time_compare
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from parley.accounts.roles import Capability
from parley.api.base import ApiView, query_text
from parley.api.message_wire import structure
from parley.api.permissions import business_of, capability
from parley.api.views import NUMBER_ID, CloudApiView, _client, _number, _version_parameter
from parley.core import clock
from parley.core.errors import InvalidParameter, NotFound, PayloadTooLarge
from parley.media import rules
from parley.media.actions import do_upload_media
from parley.media.models import MediaObject
from parley.media.selectors import CustomerMedia, get_media, iter_media

FORM_OVERHEAD = 64 * 1024
URL_SECONDS = 300  # Meta's media URLs are valid for 5 minutes
_SIGNER = signing.Signer(salt="parley.media.download")


def max_upload_bytes() -> int:
    return rules.MAX_FILE_BYTES + FORM_OVERHEAD


class BoundedMultiPartParser(MultiPartParser):
    """multipart/form-data no larger than the largest file a kind takes (plus the form's
    fields); the declared length is required, and the parser reads no more than it."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        meta = request.META if request is not None else {}
        raw = str(meta.get("CONTENT_LENGTH") or "")
        if not raw.isdigit():
            raise InvalidParameter("(#100) A multipart upload needs a Content-Length.")
        if int(raw) > max_upload_bytes():
            raise PayloadTooLarge(
                f"(#100) The request body is larger than {max_upload_bytes()} bytes."
            )
        return super().parse(stream, media_type, parser_context)


MediaOut = inline_serializer(
    "MediaOut",
    fields={
        "messaging_product": serializers.ChoiceField(choices=["whatsapp"]),
        "url": serializers.URLField(help_text="Download it with the same token (5 minutes)."),
        "mime_type": serializers.CharField(),
        "sha256": serializers.CharField(help_text="Hex SHA-256 of the file."),
        "file_size": serializers.CharField(help_text="Bytes, as a string (Meta's schema)."),
        "id": serializers.CharField(),
    },
)


def _signature(graph_id: int, expires: int) -> str:
    return _SIGNER.signature(f"{graph_id}:{expires}")


def download_url(request: Request, media: MediaObject | CustomerMedia) -> str:
    expires = int((clock.now() + dt.timedelta(seconds=URL_SECONDS)).timestamp())
    path = (
        f"/parley/v1/media/{media.graph_id}/download"
        f"?expires={expires}&hash={_signature(media.graph_id, expires)}"
    )
    return request.build_absolute_uri(path)


def media_node(request: Request, media: MediaObject | CustomerMedia) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "url": download_url(request, media),
        "mime_type": media.mime_type,
        "sha256": media.sha256,
        # A string, as Meta's description of the API types it.
        "file_size": str(media.file_size),
        "id": str(media.graph_id),
    }


def phone_number_filter(request: Request) -> str | None:
    """Meta's optional `?phone_number_id`: only media that number uploaded."""
    raw = query_text(request, "phone_number_id", r"[0-9]{1,18}", hint="must be a phone number id")
    return raw or None


PHONE_NUMBER_ID = OpenApiParameter(
    "phone_number_id",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    required=False,
    pattern=r"^[0-9]{1,18}$",
    description="Only if the media belongs to this phone number (media ids only).",
)


class MediaUploadView(CloudApiView):
    """POST /{version}/{phone_number_id}/media"""

    parser_classes = [BoundedMultiPartParser]
    permission_classes = [capability(Capability.SEND_MESSAGES)]
    pagination_class = None

    @extend_schema(
        summary="Upload media",
        description=(
            "A file for media messages, kept 30 days. Types and limits as Meta's: audio "
            "(aac, amr, mpeg, mp4, ogg) 16 MB; documents (text, pdf, Office) 100 MB; images "
            "(jpeg, png) 5 MB; stickers (webp) 100 KB static, 500 KB animated; video (mp4, "
            "3gpp) 16 MB. Anything else answers 131053."
        ),
        parameters=[_version_parameter(), NUMBER_ID],
        request={
            "multipart/form-data": inline_serializer(
                "MediaUploadIn",
                fields={
                    "file": serializers.FileField(),
                    "type": serializers.ChoiceField(
                        choices=list(rules.MIME_TYPES), help_text="The file's MIME type."
                    ),
                    "messaging_product": serializers.ChoiceField(choices=["whatsapp"]),
                },
            )
        },
        responses=inline_serializer("MediaUploadedOut", fields={"id": serializers.CharField()}),
    )
    def post(self, request: Request, version: str, number_id: str) -> Response:
        number = _number(_client(request), number_id)
        form = request.data
        product = form.get("messaging_product")
        if not product:
            raise structure("The parameter messaging_product is required.")
        if not isinstance(product, str) or product.lower() != "whatsapp":
            got = str(product)[:40]
            raise structure(f'Param messaging_product must be one of {{WHATSAPP}} - got "{got}".')
        upload = request.FILES.get("file")
        if upload is None:
            raise structure("The parameter file is required.")
        mime_type = form.get("type") or upload.content_type or ""
        if not isinstance(mime_type, str) or len(mime_type) > 200:
            raise structure("Param type must be a MIME type.")
        media = do_upload_media(number, upload, mime_type=mime_type, file_name=upload.name or "")
        return Response({"id": str(media.graph_id)})


_EXPIRES = re.compile(r"[0-9]{1,12}", re.ASCII)


class MediaDownloadView(ApiView):
    """GET /parley/v1/media/{media_id}/download: the bytes, with the business's token."""

    permission_classes = [capability(Capability.SEND_MESSAGES)]
    pagination_class = None

    @extend_schema(
        summary="Download media (the `url` a media id answers)",
        parameters=[
            OpenApiParameter(
                "media_id",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                pattern=r"^[0-9]{17}$",
                description="The media's id.",
            ),
            OpenApiParameter(
                "expires",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=True,
                pattern=r"^[0-9]{1,12}$",
                description="From the media's url.",
            ),
            OpenApiParameter(
                "hash",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=True,
                description="From the media's url.",
            ),
        ],
        responses={(200, "*/*"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, media_id: str) -> StreamingHttpResponse:
        media = get_media(business_of(request), media_id)
        expires = request.query_params.get("expires", "")
        given = request.query_params.get("hash", "")
        valid = (
            _EXPIRES.fullmatch(expires) is not None
            and constant_time_compare(given, _signature(media.graph_id, int(expires)))
            and int(expires) >= clock.now().timestamp()
        )
        if not valid:
            raise NotFound(
                "The media URL is not valid or has expired: read the media id again for a new one."
            )
        response = StreamingHttpResponse(iter_media(media), content_type=media.mime_type)
        response["Content-Length"] = str(media.file_size)
        name = media.file_name or f"{media.graph_id}.{rules.EXTENSIONS.get(media.mime_type, 'bin')}"
        response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
        return response
