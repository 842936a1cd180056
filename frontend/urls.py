from django.urls import path

from frontend import dashboard_views, views

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
    path("tangrams/", views.tangram_gallery, name="tangram-gallery"),
    path("tangrams/<str:name>.svg", views.tangram_svg, name="tangram-svg"),
    path("tangrams/<str:name>.png", views.tangram_png, name="tangram-png"),
    path("healthz", views.healthz, name="healthz"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/files/<str:name>", dashboard_views.dashboard_file, name="dashboard-file"),
]
