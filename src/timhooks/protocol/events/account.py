"""Account webhooks: online state (``State.StateChange``) and profile (``Profile.*``)."""

from __future__ import annotations

from typing import Any

import msgspec

from timhooks.protocol.events.base import Event, Model

__all__ = ["KickedDevice", "PortraitSet", "ProfileItem", "StateChange", "StateInfo"]


class StateInfo(Model, frozen=True, kw_only=True):
    """What happened to a user's online state: Action, whose (To_Account), and the Reason.

    Action Login (Reason Register), Logout (Unregister), Disconnect (LinkClose or TimeOut) or
    CustomStatusChange (SetCustomStatus). Follows "Status Change Webhooks",
    https://www.tencentcloud.com/document/product/1047/34357.
    """

    action: str = msgspec.field(name="Action", default="")
    to_account: str = msgspec.field(name="To_Account", default="")
    reason: str = msgspec.field(name="Reason", default="")
    custom_status: str | None = msgspec.field(name="CustomStatus", default=None)


class KickedDevice(Model, frozen=True, kw_only=True):
    """A device logged out by a new login: its Platform (iOS, Android, Web, Windows, iPad, Mac,
    Linux).

    Follows "Status Change Webhooks", https://www.tencentcloud.com/document/product/1047/34357.
    """

    platform: str = msgspec.field(name="Platform", default="")


class StateChange(Event, frozen=True, kw_only=True):
    """State.StateChange: a user logged in, logged out, lost the connection or set a status.

    Follows "Status Change Webhooks", https://www.tencentcloud.com/document/product/1047/34357.
    ``KickedDevice`` comes with a Login that logged other devices out. The page lists
    ``CustomStatus`` without saying where it sits: it is read in the body and in ``Info``.
    This is the webhook whose OptPlatform says ``IOS``.
    """

    command = "State.StateChange"
    info: StateInfo = msgspec.field(name="Info", default_factory=StateInfo)
    # Empty unless a Login logged other devices out; an empty list is left off the wire.
    kicked_device: tuple[KickedDevice, ...] = msgspec.field(name="KickedDevice", default=())
    custom_status: str | None = msgspec.field(name="CustomStatus", default=None)

    def to_wire(self) -> dict[str, Any]:
        """The body, with ``KickedDevice`` only when a device was logged out."""
        data = super().to_wire()
        if not self.kicked_device:
            data.pop("KickedDevice", None)
        return data


class ProfileItem(Model, frozen=True, kw_only=True):
    """One updated profile field: its Tag (``Tag_Profile_IM_Nick`` ...) and Value.

    Follows "After a Profile Is Updated",
    https://www.tencentcloud.com/document/product/1047/48733.
    """

    tag: str = msgspec.field(name="Tag", default="")
    value: str | int = msgspec.field(name="Value", default="")


class PortraitSet(Event, frozen=True, kw_only=True):
    """Profile.CallbackPortraitSet: a user's profile was updated (by the user or an admin).

    Follows "After a Profile Is Updated", https://www.tencentcloud.com/document/product/1047/48733.
    ``From_Account`` is whose profile changed, ``Operator_Account`` who changed it.
    """

    command = "Profile.CallbackPortraitSet"
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    from_account: str = msgspec.field(name="From_Account", default="")
    profile_item: tuple[ProfileItem, ...] = msgspec.field(name="ProfileItem", default=())
