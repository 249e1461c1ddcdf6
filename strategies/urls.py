"""HTML pages of the strategies app, mounted under /strategies/."""

from django.urls import path

from strategies import views

app_name = "strategies"
urlpatterns = [
    path("", views.strategy_list_view, name="list"),
    path("new/", views.strategy_create_view, name="create"),
    path("validate.json", views.strategy_validate_view, name="validate"),
    path("<int:pk>/", views.strategy_detail_view, name="detail"),
    path("<int:pk>/edit/", views.strategy_edit_view, name="edit"),
    path("<int:pk>/delete/", views.strategy_delete_view, name="delete"),
    path("<int:pk>/clone/", views.strategy_clone_view, name="clone"),
    path("<int:pk>/versions/<int:number>/", views.strategy_version_view, name="version"),
    path("<int:pk>/versions/<int:number>/diff/", views.strategy_diff_view, name="diff"),
    path("<int:pk>/diff/", views.strategy_compare_view, name="compare"),
]
