"""`/api/v1/account`: one's own password, changed by API (the page is /account/password)."""

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from netlm.web import state
from netlm.web.security import Viewer, client_address

router = APIRouter(tags=["auth"])


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


@router.post("/account/password", status_code=204)
def change_password(request: Request, body: PasswordChangeIn, current: Viewer) -> None:
    """Change your password: the current one is checked (throttled like a sign-in), the new one
    against the policy (at least 10 characters, zxcvbn strength 3 of 4, not containing your user
    or display name; 422 names the problem). Your browser sessions end, except the one sending
    this request; API tokens keep working (revoke them separately)."""
    keep = current.web_session.id if current.web_session else None
    state.store(request).change_password(
        current.user, body.current_password, body.new_password, client_address(request), keep
    )
