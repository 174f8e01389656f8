"""The arena over REST: the same services and the same anonymity payload as the pages."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import errors

from . import selectors, services
from .models import Arena
from .serializers import (
    BattleSerializer,
    FollowUpSerializer,
    LeaderboardQuerySerializer,
    LeaderboardSerializer,
    StartBattleSerializer,
    VoteSerializer,
    battle_data,
)


class BattleListView(APIView):
    error_statuses = (404,)  # the arena named, or no open arena
    throttle_scope = "battles"

    @extend_schema(request=StartBattleSerializer, responses={201: BattleSerializer}, summary="Start a battle")
    def post(self, request):
        data = StartBattleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        arenas = Arena.objects.filter(is_open=True)
        slug = data.validated_data.get("arena")
        arena = get_object_or_404(arenas, slug=slug) if slug else arenas.first()
        if arena is None:
            raise NotFound("No arena is open yet; an admin must create one.")
        battle = _refused_as_4xx(
            "prompt", lambda: services.start_battle(arena, request.user, data.validated_data["prompt"])
        )
        payload = selectors.battle_payload(battle, request.user, judgment=None)
        return Response(BattleSerializer(payload).data, status=status.HTTP_201_CREATED)


class BattleDetailView(APIView):
    @extend_schema(responses={200: BattleSerializer}, summary="Read a battle (names hidden until you vote)")
    def get(self, request, public_id):
        battle = _battle(public_id, request.user)
        return Response(BattleSerializer(selectors.battle_payload(battle, request.user)).data)


class VoteView(APIView):
    error_statuses = (409,)
    throttle_scope = "votes"

    @extend_schema(
        request=VoteSerializer,
        responses={201: BattleSerializer, 200: BattleSerializer},
        summary="Vote; the response reveals the models. Repeating the same vote is safe (200).",
    )
    def post(self, request, public_id):
        battle = _battle(public_id, request.user)
        data = VoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        judgment, created = _refused_as_4xx(
            "vote", lambda: services.cast_vote(battle, request.user, **data.validated_data)
        )
        payload = battle_data(
            selectors.battle_payload(battle, request.user, judgment)
        )  # BattleSerializer's data
        return Response(payload, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class FollowUpView(APIView):
    error_statuses = (409,)  # voted, out of turns, or the answers are not in yet
    throttle_scope = "battles"  # a follow-up sets K models generating, as a battle start does

    @extend_schema(
        request=FollowUpSerializer,
        responses={201: BattleSerializer},
        summary="Send a follow-up: every model answers it with its own history (names stay hidden)",
    )
    def post(self, request, public_id):
        battle = _battle(public_id, request.user)
        data = FollowUpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _refused_as_4xx(
            "message",
            lambda: services.send_follow_up(
                battle, request.user, data.validated_data["message"], data.validated_data.get("turn_ranking")
            ),
        )
        payload = BattleSerializer(selectors.battle_payload(battle, request.user)).data
        return Response(payload, status=status.HTTP_201_CREATED)


class LeaderboardView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[LeaderboardQuerySerializer],
        responses={200: LeaderboardSerializer},
        summary="The live leaderboard, for one method, with or without style control",
    )
    def get(self, request):
        # A plain dict, not the QueryDict: DRF reads an empty form value as "not given" and would
        # answer ?method= with the default board, which the schema (an enum) forbids.
        query = LeaderboardQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            view = selectors.parse_view(data["method"], data["style_control"], data["category"])
        except ValueError as exc:
            raise ValidationError({"view": [str(exc)]}) from exc
        return Response(LeaderboardSerializer(selectors.leaderboard(*view)).data)


def _refused_as_4xx(field, action):
    """Run a battle action. A refusal carries its status (annotation.errors; config.api_errors answers it);
    plain bad input (a 400) is reported against the request field it came from."""
    try:
        return action()
    except ValueError as exc:
        if errors.status_of(exc) != 400:
            raise
        raise ValidationError({field: [str(exc)]}) from exc


def _battle(public_id, user):
    return services.get_battle(public_id, user)  # BattleNotFound answers 404 (annotation.errors)
