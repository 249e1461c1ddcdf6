"""API routes of the strategies app, mounted under /api/v1/."""

from django.urls import path

from strategies import api

urlpatterns = [
    path("strategies/", api.StrategyCollectionApi.as_view(), name="api-strategies"),
    path("strategies/validate/", api.StrategyValidateApi.as_view(), name="api-strategy-validate"),
    path(
        "strategies/templates/",
        api.StrategyTemplateListApi.as_view(),
        name="api-strategy-templates",
    ),
    path("strategies/<int:pk>/", api.StrategyDetailApi.as_view(), name="api-strategy-detail"),
    path("strategies/<int:pk>/clone/", api.StrategyCloneApi.as_view(), name="api-strategy-clone"),
    path(
        "strategies/<int:pk>/versions/",
        api.StrategyVersionListApi.as_view(),
        name="api-strategy-versions",
    ),
    path(
        "strategies/<int:pk>/versions/<int:number>/",
        api.StrategyVersionDetailApi.as_view(),
        name="api-strategy-version-detail",
    ),
    path(
        "strategies/<int:pk>/versions/<int:number>/diff/",
        api.StrategyVersionDiffApi.as_view(),
        name="api-strategy-version-diff",
    ),
]
