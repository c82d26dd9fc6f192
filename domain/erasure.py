"""What a contact's personal data reads as once it is erased (GDPR art. 17).

Each event lists the fields that hold personal data in ``personal_fields``; the store keeps
them encrypted with the contact's data key, and beside the ciphertext a placeholder of the
same shape, which is what the event reads as once the key is destroyed. A placeholder must
still load (an address stays a string, a list a list), and it keeps what the law asks to
keep: for consent evidence, how and when consent was given or withdrawn (art. 7(1): the
brand must be able to show it), but not the words or the address it came from.
"""

from __future__ import annotations

from typing import Any

ERASED = "erased"

# Consent evidence (``domain.consent.Evidence.as_record``): what stays once the contact is
# erased. The source, the channel, who recorded it (an API key id or an agent, not the
# contact), the detector's rule, the message id, whether it was unsure and when the contact
# said it prove the change; its text, the contact's address and an imported row's digest
# (made from the address) are personal data and go.
EVIDENCE_KEPT = ("source", "channel", "actor", "rule", "message_id", "uncertain", "collected_at")


def placeholder(field: str, value: Any) -> Any:
    """The value ``field`` reads as once erased: a string reads "erased", a list is
    empty, a rich card is gone, consent evidence keeps its proof, any other mapping keeps
    its keys (a bot's answers by step) with each value erased."""
    if value is None:
        return None
    if isinstance(value, str):
        return ERASED
    if isinstance(value, list):
        return []
    if isinstance(value, dict) and field == "evidence":
        kept = {k: v for k, v in value.items() if k in EVIDENCE_KEPT}
        return {**{k: ERASED for k in value if k not in EVIDENCE_KEPT}, **kept}
    if isinstance(value, dict) and field == "rich":
        return None
    if isinstance(value, dict):
        return {k: placeholder(k, v) for k, v in value.items()}
    return value
