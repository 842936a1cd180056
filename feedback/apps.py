from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "feedback"
    verbose_name = "Feedback"

    def ready(self):
        from feedback.selectors import annotation_truth, register_truth_source

        # Human annotations' final feedback labels score decoders: evaluate_decoder --truth annotation.
        register_truth_source("annotation", annotation_truth)
