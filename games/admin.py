from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from games.admin_base import ReadOnlyAdmin, ReadOnlyInline
from games.models import (
    ContextImage,
    Deployment,
    GameConfig,
    Interaction,
    Participant,
    Round,
    RoundConfig,
    System,
    Tangram,
    Turn,
)


def _svg_thumbnail(svg: str, size: int = 64):
    # Stored SVGs are produced by our own renderer from polygons (never copied from an imported
    # file), so they are safe to inline.
    return format_html('<div style="width:{0}px;height:{0}px">{1}</div>', size, mark_safe(svg))


@admin.register(Tangram)
class TangramAdmin(ReadOnlyAdmin):
    list_display = ["thumbnail", "name", "split", "source", "created_at"]
    list_filter = ["split", "source"]
    search_fields = ["name", "source_file"]
    exclude = ["png", "svg", "polygons"]
    readonly_fields = ["preview", "polygons_text"]

    @admin.display(description="")
    def thumbnail(self, obj):
        return _svg_thumbnail(obj.svg)

    @admin.display(description="figure")
    def preview(self, obj):
        return _svg_thumbnail(obj.svg, 240)

    @admin.display(description="polygons")
    def polygons_text(self, obj):
        return format_html("<pre>{}</pre>", "\n".join(str(p) for p in obj.polygons))


class ContextImageInline(ReadOnlyInline):
    model = ContextImage
    fields = ["index", "tangram", "figure", "is_target", "speaker_position", "listener_position"]
    readonly_fields = fields
    ordering = ["index"]

    @admin.display(description="")
    def figure(self, obj):
        return _svg_thumbnail(obj.tangram.svg, 48)


@admin.register(GameConfig)
class GameConfigAdmin(ReadOnlyAdmin):
    list_display = ["name", "split", "origin", "num_targets", "created_at"]
    list_filter = ["split", "origin", "num_targets"]
    search_fields = ["name", "source_file"]
    inlines = [ContextImageInline]


class RoundConfigInline(ReadOnlyInline):
    model = RoundConfig
    fields = ["position", "config"]
    readonly_fields = fields


class DeploymentInline(ReadOnlyInline):
    model = Deployment
    fields = ["system", "checkpoint", "queue_cursor"]
    readonly_fields = fields


@admin.register(Round)
class RoundAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "created_at", "opened_at", "closed_at", "decoded_at", "trained_at"]
    list_filter = ["status"]
    inlines = [DeploymentInline, RoundConfigInline]


@admin.register(System)
class SystemAdmin(ReadOnlyAdmin):
    list_display = ["name", "listener_kind", "decoder", "objective", "created_at"]
    list_filter = ["listener_kind", "decoder", "objective"]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "round", "system", "checkpoint", "queue_cursor"]
    list_filter = ["round", "system"]


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "platform", "consented_at", "completed_at", "bonus"]
    list_filter = ["platform"]
    search_fields = ["external_id_hash", "completion_code"]


class TurnInline(ReadOnlyInline):
    model = Turn
    fields = ["index", "utterance", "selected", "deselected", "selection_after", "action_source",
              "action_probability"]
    readonly_fields = fields
    ordering = ["index"]


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdmin):
    list_display = ["id", "deployment", "config", "status", "end_reason", "turn_count", "created_at"]
    list_filter = ["deployment__round", "deployment__system", "status", "end_reason", "purpose"]
    search_fields = ["id", "config__name"]
    list_select_related = ["deployment__round", "deployment__system", "config"]
    inlines = [TurnInline]


@admin.register(Turn)
class TurnAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "utterance", "action_source", "action_probability", "created_at"]
    list_filter = ["interaction__deployment__round", "interaction__deployment__system", "action_source"]
    search_fields = ["utterance"]
    list_select_related = ["interaction"]
