"""Typed access to what `create_app` keeps on `app.state`, for every router."""

from fastapi import Request

from netlm.knowledge.load import KnowledgeBase
from netlm.settings import Settings
from netlm.store.repository import Store
from netlm.web.service import Board


def kb(request: Request) -> KnowledgeBase:
    value: KnowledgeBase = request.app.state.kb
    return value


def store(request: Request) -> Store:
    value: Store = request.app.state.store
    return value


def board(request: Request) -> Board:
    value: Board = request.app.state.board
    return value


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value
