from django.contrib import admin
from django.urls import include, path

from reviewqueue.web import ops

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("api/v1/", include("reviewqueue.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("reviewqueue.web.urls")),
]

handler404 = "reviewqueue.web.ops.not_found"
handler500 = "reviewqueue.web.ops.server_failure"
