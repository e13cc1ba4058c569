"""A URLconf for platform tests: the real project URLs plus one probe endpoint."""

from django.urls import include, path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from mastermobile.api.errors import ProblemError
from mastermobile.urls import handler500  # noqa: F401  (root URLconf handler)


class ProbeItemSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=8)
    qty = serializers.IntegerField(min_value=1)


class ProbeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    items = ProbeItemSerializer(many=True)


class ProbeView(APIView):
    allowed_roles = {"GET": {"1c", "admin"}, "POST": {"1c", "admin"}}

    def get(self, request):
        outcome = request.query_params.get("raise")
        if outcome == "crash":
            raise RuntimeError("database password is hunter2-secret")
        if outcome == "conflict":
            raise ProblemError("conflict", "The return is not pending.")
        return Response({"subject": request.user.subject, "role": request.user.role})

    def post(self, request):
        serializer = ProbeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=201)


urlpatterns = [
    path("api/v1/probe", ProbeView.as_view()),
    path("", include("mastermobile.urls")),
]
