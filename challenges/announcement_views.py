"""Announcements for players: the page, the banner every page carries (both
refreshed in place by htmx, as the scoreboard is) and `GET /api/v1/announcements`."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from challenges.announcements import announcements_for

# The newest announcement a browser has dismissed or read (set by the page's JS).
SEEN_COOKIE = "announcements_seen"


def banner_context(request: HttpRequest) -> dict:
    """The newest announcement this browser has not dismissed, if any."""
    try:
        seen = int(request.COOKIES.get(SEEN_COOKIE, "0"))
    except ValueError:
        seen = 0
    newest = next(iter(announcements_for(request.user)), None)
    return {"announcement": newest if newest and newest.pk > seen else None}


def banner(request: HttpRequest) -> HttpResponse:
    return render(
        request, "challenges/_announcement_banner.html", banner_context(request)
    )


def announcements(request: HttpRequest) -> HttpResponse:
    context = {"announcements": announcements_for(request.user)}
    if request.htmx:
        return render(request, "challenges/_announcements.html", context)
    return render(request, "challenges/announcements.html", context)


class AnnouncedChallengeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AnnouncementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField(allow_blank=True, help_text="Markdown.")
    body_html = serializers.CharField(
        source="html", allow_blank=True, help_text="Sanitized HTML."
    )
    challenge = AnnouncedChallengeSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AnnouncementListView(ListAPIView):
    """The announcements the caller may read, newest first."""

    serializer_class = AnnouncementSerializer

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(announcements_for(request.user))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
