"""Per-round game timing and pay scheme (pure; validated from the round's JSON settings).

Defaults follow the original study: a 30 s speaker window and 30 s listener window, the bot's
answer shown no sooner than 2 s after the message, $0.16 per minute of play and of lobby wait,
a $0.50 success bonus, a flat $0.60 when the lobby times out, and 1.0 / 0.9 multipliers for
expert / novice workers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class GameTiming:
    speaker_seconds: float = 30.0
    listener_seconds: float = 30.0
    bot_deadline_seconds: float = 20.0  # per attempt; one retry, then the recorded fallback
    bot_min_delay_seconds: float = 2.0  # keep model turns from feeling instantaneous
    idle_grace_seconds: float = 2.0  # network slack after a deadline before declaring an idle
    lobby_timeout_seconds: float = 240.0
    # How long a participant assigned to a human-human deployment waits for a partner before being
    # given a bot deployment instead (longer while a partner is likely to arrive).
    partner_wait_seconds: float = 30.0


@dataclass(frozen=True)
class PayScheme:
    per_minute: Decimal = Decimal("0.16")
    success_bonus: Decimal = Decimal("0.50")
    lobby_per_minute: Decimal = Decimal("0.16")
    lobby_timeout_pay: Decimal = Decimal("0.60")
    expert_multiplier: Decimal = Decimal("1.0")
    novice_multiplier: Decimal = Decimal("0.9")

    def game_bonus(self, *, game_seconds: float, lobby_seconds: float, success: bool, expert: bool) -> Decimal:
        """Pay for time in the lobby and in the game, plus the success bonus, times the multiplier."""
        minutes = Decimal(str(max(0.0, game_seconds))) / 60
        lobby = Decimal(str(max(0.0, lobby_seconds))) / 60
        total = minutes * self.per_minute + lobby * self.lobby_per_minute
        if success:
            total += self.success_bonus
        multiplier = self.expert_multiplier if expert else self.novice_multiplier
        return (total * multiplier).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class StudySettings:
    timing: GameTiming = GameTiming()
    pay: PayScheme = PayScheme()

    @classmethod
    def from_dict(cls, data: Any) -> StudySettings:
        """Build from ``{"timing": {...}, "pay": {...}}``; missing keys take the defaults."""
        if data in (None, ""):
            data = {}
        if not isinstance(data, dict) or set(data) - {"timing", "pay"}:
            raise SettingsError('settings must be an object with optional "timing" and "pay" objects')
        timing = _build(GameTiming, data.get("timing", {}), float)
        pay = _build(PayScheme, data.get("pay", {}), _decimal)
        for name in ("speaker_seconds", "listener_seconds", "bot_deadline_seconds", "lobby_timeout_seconds"):
            if getattr(timing, name) <= 0:
                raise SettingsError(f"timing.{name} must be positive")
        return cls(timing=timing, pay=pay)

    def to_dict(self) -> dict:
        return {
            "timing": asdict(self.timing),
            "pay": {k: str(v) for k, v in asdict(self.pay).items()},
        }


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError from None
    if not result.is_finite():
        raise ValueError
    return result


def _build(kind, values: Any, convert):
    if not isinstance(values, dict):
        raise SettingsError(f"{kind.__name__} settings must be an object")
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(f"unknown {kind.__name__} settings: {', '.join(unknown)}")
    converted = {}
    for name, raw in values.items():
        try:
            value = convert(raw)
            if isinstance(raw, bool) or value != value:  # bools and NaN are not numbers here
                raise ValueError
        except (TypeError, ValueError):
            raise SettingsError(f"{kind.__name__}.{name} must be a number, got {raw!r}") from None
        if value < 0:
            raise SettingsError(f"{kind.__name__}.{name} must not be negative")
        converted[name] = value
    return kind(**converted)
