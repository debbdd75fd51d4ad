from django.urls import path

from reviewqueue.web import pages

urlpatterns = [
    path("", pages.home, name="home"),
]
