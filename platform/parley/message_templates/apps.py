from django.apps import AppConfig


class MessageTemplatesConfig(AppConfig):
    name = "parley.message_templates"
    label = "message_templates"
    verbose_name = "Message templates"
