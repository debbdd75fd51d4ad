from django.contrib import admin
from django.urls import include, path

from reviewqueue.observability import views as observability
from reviewqueue.web import auth, ops

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", observability.metrics, name="metrics"),
    path("api/v1/", include("reviewqueue.api.urls")),
    # The admin's sign-in, throttled like /login/ (this path comes first, so it wins).
    path("admin/login/", auth.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("", include("reviewqueue.web.urls")),
]

handler404 = "reviewqueue.web.ops.not_found"
handler500 = "reviewqueue.web.ops.server_failure"
