from django.urls import path
from rest_framework.routers import SimpleRouter

from api import views

app_name = "api"

router = SimpleRouter()
router.register("rounds", views.RoundViewSet, basename="rounds")
router.register("systems", views.SystemViewSet, basename="systems")
router.register("deployments", views.DeploymentViewSet, basename="deployments")
router.register("checkpoints", views.CheckpointViewSet, basename="checkpoints")
router.register("training-runs", views.TrainingRunViewSet, basename="training-runs")
router.register("interactions", views.InteractionViewSet, basename="interactions")
router.register("feedback-labels", views.FeedbackLabelViewSet, basename="feedback-labels")
router.register("campaigns", views.CampaignViewSet, basename="campaigns")
router.register("annotations", views.AnnotationViewSet, basename="annotations")
router.register("audit", views.AuditViewSet, basename="audit")

urlpatterns = [
    path("", views.RootView.as_view(endpoints=tuple(basename for _, _, basename in router.registry)), name="root"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    *router.urls,
]
