"""What a notification is."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class EmailNotification(BaseModel):
    """An e-mail to send: the body of one message on the notifications queue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["email"] = "email"
    to: list[EmailStr] = Field(min_length=1, max_length=50)
    subject: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=100_000)
    html: str | None = Field(default=None, max_length=500_000)
    # Names the business event (e.g. "receipt:<cdr id>"): a redelivered message sends one e-mail only.
    dedupe_key: str = Field(min_length=1, max_length=200)
