"""A test-only URLconf: one view that writes a user's first name, one that reads it."""

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.urls import path


def write_name(request: HttpRequest, user_id: int) -> HttpResponse:
    get_user_model().objects.filter(pk=user_id).update(first_name=request.POST["name"])
    return HttpResponse("written")


def read_name(request: HttpRequest, user_id: int) -> HttpResponse:
    return HttpResponse(
        get_user_model().objects.values_list("first_name", flat=True).get(pk=user_id)
    )


urlpatterns = [
    path("write/<int:user_id>/", write_name),
    path("read/<int:user_id>/", read_name),
]
