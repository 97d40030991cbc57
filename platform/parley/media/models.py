"""A business's uploaded media, as the Cloud API keeps it: the file in Django's storage,
its digest and type here, gone after 30 days (simulation clock)."""

from __future__ import annotations

from django.db import models

from parley.accounts.models import Business, PhoneNumber
from parley.core.graph_ids import new_media_id


class MediaObject(models.Model):
    id = models.BigAutoField(primary_key=True)
    graph_id = models.BigIntegerField(unique=True, default=new_media_id, editable=False)
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="media")
    phone_number = models.ForeignKey(
        PhoneNumber, on_delete=models.CASCADE, related_name="media", null=True, blank=True
    )
    kind = models.CharField(max_length=10)
    mime_type = models.CharField(max_length=100)
    file_size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    file_name = models.CharField(max_length=240, blank=True, default="")
    # Where the bytes are in Django's default storage.
    storage_name = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["expires_at"], name="media_expires")]

    def __str__(self) -> str:
        return f"{self.graph_id} ({self.mime_type}, {self.file_size} bytes)"
