from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.auth import issue_token
from accounts.models import User, email_key
from accounts.serializers import AuthTokenSerializer, SigninSerializer, SignupSerializer, UserSerializer
from todo_project.schema import error_responses
from todo_project.throttling import AuthRateThrottle, check_failed_signins, record_failed_signin


class InvalidCredentials(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Invalid email or password"
    default_code = "invalid_credentials"


def token_response(user: User, status_code: int) -> Response:
    issued = issue_token(user)
    body = AuthTokenSerializer(
        {"token": issued.token, "token_type": "bearer", "expires_at": issued.expires_at, "user": user}
    ).data
    return Response(body, status=status_code)


class AuthEntryView(APIView):
    """Sign-up and sign-in: open to anyone, a token in the request ignored, throttled per address."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]


class SignupView(AuthEntryView):
    @extend_schema(
        operation_id="auth_signup",
        tags=["auth"],
        request=SignupSerializer,
        responses={201: AuthTokenSerializer, **error_responses(400, 409, 413, 415, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.register_user(**serializer.validated_data)
        return token_response(user, status.HTTP_201_CREATED)


class SigninView(AuthEntryView):
    @extend_schema(
        operation_id="auth_signin",
        tags=["auth"],
        request=SigninSerializer,
        responses={
            200: AuthTokenSerializer,
            **error_responses(
                400, 401, 413, 415, 429, s401="Invalid email or password (invalid_credentials)."
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = SigninSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = email_key(serializer.validated_data["email"])
        check_failed_signins(request, account)
        user = services.authenticate_user(**serializer.validated_data)
        if user is None:
            record_failed_signin(request, account)
            raise InvalidCredentials()
        return token_response(user, status.HTTP_200_OK)


class MeView(APIView):
    @extend_schema(
        operation_id="auth_me", tags=["auth"], responses={200: UserSerializer, **error_responses(401)}
    )
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class SignOutAllView(APIView):
    @extend_schema(
        operation_id="auth_signout_all",
        tags=["auth"],
        request=None,
        responses={204: None, **error_responses(401)},
        description="Ends every token issued to the user so far, this one included.",
    )
    def post(self, request: Request) -> Response:
        services.sign_out_everywhere(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
