from django.urls import path

from couriers.api import exports, views

# Mounted at /api/v1/ww; no trailing slashes (APPEND_SLASH is off).
urlpatterns = [
    path("/couriers", views.CourierListView.as_view(), name="ww-couriers"),
    path("/couriers/<str:courier_id>/stock", views.CourierStockView.as_view(), name="ww-courier-stock"),
    path("/couriers/<str:courier_id>/stock/movements", views.StockMovementView.as_view(), name="ww-stock-movements"),
    path("/orders", views.OrderListView.as_view(), name="ww-orders"),
    path("/orders/<str:order_id>", views.OrderDetailView.as_view(), name="ww-order-detail"),
    path("/orders/<str:order_id>/assign", views.OrderAssignView.as_view(), name="ww-order-assign"),
    path("/orders/<str:order_id>/status", views.OrderStatusView.as_view(), name="ww-order-status"),
    path("/orders/<str:order_id>/logs", views.OrderLogView.as_view(), name="ww-order-logs"),
    path("/assignments/<str:assignment_id>/accept", views.AssignmentAcceptView.as_view(), name="ww-assignment-accept"),
    path(
        "/assignments/<str:assignment_id>/decline", views.AssignmentDeclineView.as_view(), name="ww-assignment-decline"
    ),
    path("/report/deliveries", exports.DeliveryReportView.as_view(), name="ww-report-deliveries"),
    path("/export/kmp4", exports.Kmp4ExportView.as_view(), name="ww-export-kmp4"),
]
