"""Serving a handout: from the catalog, or from the admin's uploads, with the
player's `{flag:<key>}` placeholders filled. The page and the API call it after
their access check."""

import mimetypes
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header

from challenges.board import Board, Card
from challenges.models import Challenge, ChallengeFile


def handout_response(board: Board, card: Card, file_id: int) -> HttpResponse:
    """One of an open card's files, placeholders filled for the player (the
    page and the API serve it alike)."""
    handout = get_object_or_404(ChallengeFile, pk=file_id, challenge=card.challenge)
    path = _handout_path(card.challenge, handout)
    if handout.placeholders:
        text = board.fill(card, path.read_text(encoding="utf-8"))
        content_type = mimetypes.guess_type(handout.name)[0] or "text/plain"
        response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=handout.name
        )
        return response
    return FileResponse(path.open("rb"), as_attachment=True, filename=handout.name)


def _handout_path(challenge: Challenge, handout: ChallengeFile) -> Path:
    """The file on disk, refusing anything that resolves outside its folder
    (the catalog, or the admin's uploads)."""
    if handout.upload:
        root = Path(settings.MEDIA_ROOT).resolve()
        path = Path(handout.upload.path).resolve()
    else:
        root = Path(settings.CATALOG_DIR).resolve()
        path = (root / challenge.identity / handout.relative_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Http404("File not found.")
    return path
