"""The web pages (being written)."""

from fastapi import APIRouter

router = APIRouter()
