"""What follows a game's end for its players: pay for the time (and success), the next step of
their journey. The live engine calls it as a game ends, in the same transaction."""
from __future__ import annotations

from games.models import Interaction, Participant


def settle_game(interaction: Interaction) -> None:
    """After a game ends: pay for the time (and success), move the players on. Called by the live engine."""
    people = [p for p in (interaction.speaker_id, interaction.listener_id) if p]
    if interaction.purpose == Interaction.Purpose.PRACTICE:
        if interaction.succeeded:
            Participant.objects.filter(pk__in=people).update(practiced=True)
        return
    if interaction.purpose != Interaction.Purpose.STUDY:
        return
    study = interaction.study_settings
    game_seconds = (interaction.ended_at - interaction.started_at).total_seconds()
    for participant in Participant.objects.select_for_update().filter(pk__in=people):
        lobby_seconds = 0.0
        if participant.lobby_entered_at and participant.lobby_left_at:
            lobby_seconds = (participant.lobby_left_at - participant.lobby_entered_at).total_seconds()
        participant.bonus += study.pay.game_bonus(
            game_seconds=game_seconds, lobby_seconds=lobby_seconds, success=interaction.succeeded,
            expert=participant.expert,
        )
        participant.stage = Participant.Stage.SURVEY
        if interaction.end_reason in (Interaction.EndReason.SPEAKER_IDLE, Interaction.EndReason.LISTENER_IDLE):
            participant.end_note = "The game ended because a player stopped responding; you are paid for your time."
        participant.save()
