"""A URLconf for platform tests: the real project URLs plus one probe endpoint."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import include, path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from mastermobile.api.errors import ProblemError
from mastermobile.errors import ConflictError, InvalidStatusChange, NotFoundError
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
        # What services raise, outside any view that knows about them.
        if outcome == "domain-conflict":
            raise ConflictError("The order is not NEW.")
        if outcome == "domain-missing":
            raise NotFoundError("Order 42 does not exist.")
        if outcome == "domain-transition":
            raise InvalidStatusChange("Order 42 is NEW; it cannot become DONE.", current="NEW", requested="DONE")
        if outcome == "model-invalid":
            raise DjangoValidationError({"qty": ["Ensure this value is greater than or equal to 1."]})
        if outcome == "model-invalid-flat":
            raise DjangoValidationError("The period is empty.")
        return Response({"subject": request.user.subject, "role": request.user.role})

    def post(self, request):
        serializer = ProbeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=201)


urlpatterns = [
    path("api/v1/probe", ProbeView.as_view()),
    path("", include("mastermobile.urls")),
]
