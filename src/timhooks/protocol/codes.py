"""Error codes of the protocol: REST results and webhook answers.

REST codes follow Tencent's "Error Codes" (https://trtc.io/document/34348) and the REST pages of
each command; webhook answers follow each webhook's page.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["RestCode", "WebhookCode"]


class WebhookCode(IntEnum):
    """ErrorCode values an app backend answers a before-webhook with.

    From "Before a One-to-One Message Is Sent" (https://trtc.io/document/34364) and the other
    before-webhook pages.
    """

    ALLOW = 0
    DENY = 1
    DISCARD = 2  # the *.CallbackBeforeSendMsg commands: not sent, the sender sees success


class RestCode(IntEnum):
    """ErrorCode values of Tencent's REST API that timhooks returns."""

    # Official Account service (the Official Channel REST pages, https://trtc.io/document/60755)
    OA_BAD_PARAM = 6017
    # group and generic service codes
    INTERNAL = 10002
    BAD_PARAM = 10004
    NO_PERMISSION = 10007
    GROUP_NOT_FOUND = 10010
    ALREADY_MEMBER = 10013
    GROUP_FULL = 10014
    GROUP_ID_INVALID = 10015
    REFUSED_BY_CALLBACK = 10016
    SENDER_MUTED = 10017  # a muted member's group message
    ACCOUNT_NOT_FOUND = 10019
    GROUP_ID_IN_USE = 10021
    MSG_TO_RECALL_NOT_FOUND = 10030
    RECALL_TOO_LATE = 10031  # a client recalls a group message older than 2 minutes
    CREATE_REFUSED_BY_CALLBACK = 20006
    # The same code: a one-to-one message refused by C2C.CallbackBeforeSendMsg.
    MSG_REFUSED_BY_CALLBACK = 20006
    # One-to-one messages ("Sending One-to-One Messages to One User", https://trtc.io/document/34919;
    # "Recalling One-to-One Messages", https://trtc.io/document/35015)
    C2C_RECALL_TOO_LATE = 20016  # a client recalls a message older than 2 minutes
    C2C_MSG_NOT_FOUND = 20022
    C2C_MSG_ALREADY_RECALLED = 20023
    MSG_BAD_PARAM = 90001
    TO_ACCOUNT_NOT_FOUND = 90003  # admin_msgwithdraw: To_Account missing or not imported
    FROM_ACCOUNT_NOT_FOUND = 90008
    TOO_MANY_RECIPIENTS = 90011
    TO_ACCOUNT_NOT_REGISTERED = 90012  # sendmsg: To_Account not imported
    MSG_LIFETIME_INVALID = 90026
    MSG_ACCOUNT_NOT_FOUND = 90048  # "the requested account does not exist"
    MSG_KEY_INVALID = 90054
    # REST envelope (60000-69999)
    HTTP_PARSE_ERROR = 60002
    URL_ACCOUNT_ERROR = 60004
    JSON_PARSE_ERROR = 60003
    SDKAPPID_INVALID = 60006
    BAD_RESOURCE_URL = 60009
    NEEDS_ADMIN = 60010
    MISSING_SDKAPPID = 60012
    # UserSig (70000-79999)
    USERSIG_EXPIRED = 70001
    USERSIG_MALFORMED = 70003
    USERSIG_INVALID = 70009
    USERSIG_IDENTIFIER_MISMATCH = 70013
    USERSIG_SDKAPPID_MISMATCH = 70014
    ACCOUNT_NOT_IMPORTED = 70107
    SDKAPPID_NOT_FOUND = 70020
    ACCOUNT_BAD_PARAM = 70402  # account_import / multiaccount_import: a parameter is invalid
    # Official Account (130000-139999)
    OA_NO_PERMISSION = 130002
    OA_NOT_FOUND = 130004
    OA_ID_INVALID = 130007
    OA_ID_IN_USE = 130008
