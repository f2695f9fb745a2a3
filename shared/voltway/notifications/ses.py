"""SES adapter of the e-mail port."""

from __future__ import annotations

from typing import Any

from voltway.notifications.domain import EmailNotification


class SesEmailSender:
    def __init__(self, ses_client: Any) -> None:
        self._ses = ses_client

    def send(self, sender: str, email: EmailNotification) -> str:
        body: dict[str, Any] = {"Text": {"Data": email.text, "Charset": "UTF-8"}}
        if email.html:
            body["Html"] = {"Data": email.html, "Charset": "UTF-8"}
        response = self._ses.send_email(
            Source=sender,
            Destination={"ToAddresses": list(email.to)},
            Message={"Subject": {"Data": email.subject, "Charset": "UTF-8"}, "Body": body},
        )
        return str(response["MessageId"])


class InMemoryEmailSender:
    """The e-mail port's twin for unit tests: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, EmailNotification]] = []

    def send(self, sender: str, email: EmailNotification) -> str:
        self.sent.append((sender, email))
        return f"local-{len(self.sent)}"
