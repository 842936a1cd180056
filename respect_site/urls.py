from django.conf import settings
from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "RESPECT operations console"
admin.site.site_title = "RESPECT"
admin.site.index_title = "Study data (read-only)"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("play/", include("frontend.play_urls")),
    path("api/", include("api.urls")),
    path("", include("frontend.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
