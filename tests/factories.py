"""factory_boy factories for rows that tests need but services do not create yet."""
import factory

from games.models import Deployment, Interaction, Participant, Round, System
from training.models import PolicyCheckpoint


class RoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Round

    number = factory.Sequence(lambda n: n + 1)


class SystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = System

    name = factory.Sequence(lambda n: f"SYS-{n}")
    decoder = System.Decoder.BINARY
    objective = System.Objective.SUP


class CheckpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyCheckpoint

    name = factory.Sequence(lambda n: f"ckpt-{n}")
    base_model = "models/tiny"  # relative to DATA_DIR


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    round = factory.SubFactory(RoundFactory)
    system = factory.SubFactory(SystemFactory)
    checkpoint = factory.SubFactory(CheckpointFactory)
    queue_seed = factory.Sequence(lambda n: n)


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    platform = Participant.Platform.SIMULATED
    external_id_hash = factory.Sequence(lambda n: f"{n:064x}")


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    deployment = factory.SubFactory(DeploymentFactory)
    speaker = factory.SubFactory(ParticipantFactory)
