"""What Meta's deauthorize and data-deletion callbacks do, once their `signed_request` is
verified (webhooks.signatures.parse_signed_request; the views refuse anything else).

Both name a Facebook user by an APP-SCOPED id (graph-api.md §9), not a Messenger PSID. The user
who removes the app or asks Meta for deletion is normally the Page admin who connected Pages
with Facebook Login: `FacebookPage.facebook_user_id` holds that id.

- Deauthorize: each Page that user connected loses its token ("Not connected"), its active
  sync is stopped and its webhook subscription state is forgotten. Its data is kept, and so is
  `facebook_user_id`, so that a deletion request that follows still finds the Page.
- Data deletion: the same, and `facebook_user_id` is cleared; and any Contact whose PSID equals
  the id is erased with everything about it (privacy.erasure). A PSID equals an app-scoped id
  only in unusual setups (an app whose Login and Messenger ids coincide, or the sandbox, which
  uses one id space), so normally no Contact matches: Messenger users who want their data
  deleted ask the business, whose staff use the admin's "Delete all data of this person".
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations.models import Contact
from pages import progress
from pages.models import FacebookPage
from pages.sync import runs
from privacy.erasure import deliveries_mentioning, erase_contact_data
from privacy.models import DeletionRequest

logger = logging.getLogger(__name__)

# Facebook ids are decimal strings (they exceed 2**53: never numbers).
FACEBOOK_ID = re.compile(r"[0-9]{1,64}")

DEAUTHORIZED = (
    "The Facebook user who connected this Page removed the app (Meta's deauthorize "
    "callback). Connect it again to sync."
)


class BadCallback(Exception):
    """A verified payload without a usable user id. The message is safe to log and answer."""


def user_id_of(payload: dict) -> str:
    """The app-scoped user id a verified signed request names."""
    user_id = payload.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not FACEBOOK_ID.fullmatch(user_id):
        raise BadCallback("The signed request names no Facebook user id.")
    return user_id


def disconnect_pages_of(user_id: str, *, forget_user: bool = False) -> list[int]:
    """Wipe the token of every Page `user_id` connected, stop its sync and forget its webhook
    subscription; keep its data. Returns the Pages' primary keys. Idempotent."""
    disconnected = []
    with transaction.atomic():
        for page in FacebookPage.objects.select_for_update().filter(facebook_user_id=user_id):
            # The run state machine moves the runs: queued or paused ones are cancelled at
            # once, a running one stops after the conversation in flight.
            runs.request_cancel(page)
            runs.request_cancel(page, background=True)
            page.access_token = ""
            page.token_error = DEAUTHORIZED
            page.webhook_fields = []
            page.webhook_checked_at = None
            page.webhook_subscribed_at = None
            if forget_user:
                page.facebook_user_id = ""
            page.save(
                update_fields=[
                    "encrypted_access_token",
                    "token_error",
                    "webhook_fields",
                    "webhook_checked_at",
                    "webhook_subscribed_at",
                    "facebook_user_id",
                    "updated_at",
                ]
            )
            disconnected.append(page.pk)
        transaction.on_commit(lambda: _publish(disconnected))
    return disconnected


def _publish(page_ids: list[int]) -> None:
    """Show "Not connected" on the Pages' screens now (publish never raises)."""
    for page_id in page_ids:
        progress.publish(page_id, final=True)


def deauthorize(user_id: str) -> list[int]:
    page_ids = disconnect_pages_of(user_id)
    logger.info("Deauthorize callback: %d page(s) disconnected", len(page_ids))
    return page_ids


def delete_user_data(user_id: str) -> DeletionRequest:
    """Everything stored about `user_id`, in one transaction, recorded as a completed
    DeletionRequest (counts only). A failure deletes and records nothing."""
    with transaction.atomic():
        page_ids = disconnect_pages_of(user_id, forget_user=True)
        counts = erase_contact_data(Contact.objects.filter(psid=user_id))
        # Deliveries naming the id on a Page where no contact was stored (yet).
        strays = deliveries_mentioning(Q(psid=user_id))
        counts = replace(counts, webhook_deliveries=counts.webhook_deliveries + strays.count())
        strays.delete()
        request = DeletionRequest.objects.create(
            source=DeletionRequest.Source.FACEBOOK,
            status=DeletionRequest.Status.COMPLETED,
            completed_at=timezone.now(),
            pages_disconnected=len(page_ids),
            **counts.as_fields(),
        )
    logger.info(
        "Data-deletion callback: request #%s completed (%d page(s) disconnected, %d row(s) "
        "deleted)",
        request.pk,
        len(page_ids),
        counts.total,
    )
    return request
