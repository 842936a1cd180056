"""One simulated game as a driver steps it (pure): a simulated speaker and the game's ``GameState``.

Every driver (whole games in memory, the lockstep policy games of ``training``, the driver through the
game services, the websocket client) moves a game on the same way::

    episode = Episode.start(context, style, seed=derive_seed(seed, "speaker"))
    while not episode.over:
        action = ...  # the listener's (cleaned) action on episode.utterance, however it is obtained
        episode.submit(action)  # GameState.submit, then the speaker reacts if the game goes on

so how a game progresses is defined once, by ``rules.GameState``, and what the speaker meant by each
message (its ``SpeakerMove``) is recorded with the turn it was said in.
"""
from __future__ import annotations

from dataclasses import dataclass

from games.domain import rules
from games.simulation.agents.speaker import Speaker, SpeakerContext, SpeakerMove, SpeakerStyle, build_speaker


@dataclass(frozen=True)
class SimulatedTurn:
    """One played turn with the speaker's ground truth."""

    index: int  # 0-based
    utterance: str
    selection_before: frozenset[str]
    action: rules.Action
    selection_after: frozenset[str]
    intent: SpeakerMove  # what the speaker meant with this turn's utterance


class Episode:
    """A simulated speaker and the ``GameState`` it plays in, from the first message to the end.

    ``utterance`` / ``intent`` are the current turn's message and what the speaker meant by it;
    ``submit(action)`` plays the listener's action on it (``GameState.submit``) and, unless the game
    is over, has the speaker react to the new selection. ``turns`` is the record so far; the game's
    history (what a listener policy is shown) is ``state.history``.
    """

    def __init__(self, speaker: Speaker, state: rules.GameState):
        if state.turn or state.is_over:
            raise rules.RuleError("an episode starts before the first turn")
        self.speaker = speaker
        self.state = state
        self._turns: list[SimulatedTurn] = []
        self._intent: SpeakerMove | None = speaker.first_move()

    @classmethod
    def start(cls, context: SpeakerContext, style: SpeakerStyle | None = None, *, seed: int) -> Episode:
        """A new game on ``context`` with the speaker ``build_speaker`` makes for ``style`` and ``seed``
        (the speaker's own seed)."""
        state = rules.GameState(targets=context.targets, context=frozenset(context.images))
        return cls(build_speaker(context, style, seed=seed), state)

    # --- the current turn ---------------------------------------------------------------------------

    @property
    def intent(self) -> SpeakerMove | None:
        """The speaker's move of the current turn (None once the game is over)."""
        return self._intent

    @property
    def utterance(self) -> str:
        """The speaker's message of the current turn."""
        if self._intent is None:
            raise rules.RuleError(f"game is over ({self.state.outcome})")
        return self._intent.text

    @property
    def selection(self) -> frozenset[str]:
        return self.state.selection

    @property
    def history(self) -> tuple[rules.PastTurn, ...]:
        return self.state.history

    # --- stepping -----------------------------------------------------------------------------------

    def submit(self, action: rules.Action) -> rules.TurnResult:
        """Play the listener's ``action`` (consistent with the selection; empty allowed) on the current
        utterance; the speaker then reacts to the new selection unless the game is over."""
        move = self._intent
        if move is None:
            raise rules.RuleError(f"game is over ({self.state.outcome})")
        result = self.state.submit(action, move.text)
        self._turns.append(SimulatedTurn(
            result.turn - 1, move.text, result.selection_before, action, result.selection_after, move,
        ))
        self._intent = None if result.ended else self.speaker.react(result.selection_before, result.selection_after)
        return result

    # --- the record ---------------------------------------------------------------------------------

    @property
    def over(self) -> bool:
        return self.state.is_over

    @property
    def outcome(self) -> str | None:
        return self.state.outcome

    @property
    def success(self) -> bool:
        return self.state.outcome == rules.OUTCOME_SUCCESS

    @property
    def turns(self) -> tuple[SimulatedTurn, ...]:
        return tuple(self._turns)
