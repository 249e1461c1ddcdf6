"""API routes of walk-forwards, mounted under /api/v1/."""

from django.urls import path

from backtesting.walkforward import api

urlpatterns = [
    path("walkforwards/", api.WalkForwardListCreateApi.as_view(), name="api-walkforwards"),
    path(
        "walkforwards/<int:pk>/", api.WalkForwardDetailApi.as_view(), name="api-walkforward-detail"
    ),
    path(
        "walkforwards/<int:pk>/cancel/",
        api.WalkForwardCancelApi.as_view(),
        name="api-walkforward-cancel",
    ),
]
