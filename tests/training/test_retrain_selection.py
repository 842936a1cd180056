"""Checkpoint selection in the retraining loop: the held-out accuracy picks the weights kept."""
import torch

from games.domain.rules import Action, GameState
from training.learning.datasets import INTERACTION_TASK, Dataset, TrainingExample
from training.learning.examples import PlayedTurn
from training.learning.retrain import RetrainSettings, retrain
from training.policies.base import ActRequest, TrainTerms

IMAGES = tuple(f"img{i}" for i in range(10))


class OneWeight(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))


class OneWeightPolicy:
    """log π(a) = −(w − 3)² for every action, so training pushes w from 0 towards 3; the action is the
    greedy answer only while 0.5 < w < 1.5 (the log-probability keeps rising after that)."""

    def train_terms(self, model, examples):
        w = model.w.expand(len(examples))
        logp = -(w - 3.0) ** 2
        greedy = ((w > 0.5) & (w < 1.5)).detach()
        return TrainTerms(logp, torch.ones_like(logp), torch.zeros_like(logp), greedy)


def example(game: str) -> TrainingExample:
    state = GameState(targets=frozenset(IMAGES[:3]), context=frozenset(IMAGES))
    request = ActRequest.for_state(state, listener_order=IMAGES, utterance="the bird")
    turn = PlayedTurn(request=request, action=Action(select=frozenset({IMAGES[0]})), targets=state.targets, game=game)
    return TrainingExample(turn=turn, task=INTERACTION_TASK, reward=1.0, logged_probability=0.5)


def dataset(held_out_games: int) -> Dataset:
    return Dataset(objective="sup", examples=[example(f"t{i}") for i in range(4)],
                   held_out=[example(f"h{i}") for i in range(held_out_games)])


SETTINGS = RetrainSettings(steps=40, batch_size=4, learning_rate=0.1, warmup_steps=0, schedule="constant",
                           weight_decay=0.0, eval_every=2, log_every=2)


def test_the_weights_of_the_first_best_held_out_accuracy_are_kept():
    model = OneWeight()
    report = retrain(OneWeightPolicy(), model, dataset(3), SETTINGS)
    scores = dict((step, score) for step, score in report.held_out_curve)
    assert set(scores.values()) == {0.0, 1.0}  # accuracies: the share of held-out actions answered greedily
    assert scores[0] == 0.0 and scores[SETTINGS.steps] == 0.0  # neither the start nor the end is kept
    assert report.best_step == min(step for step, score in scores.items() if score == 1.0)
    assert 0.5 < float(model.w.detach()) < 1.5


def test_without_a_held_out_slice_the_last_weights_are_kept():
    model = OneWeight()
    report = retrain(OneWeightPolicy(), model, dataset(0), SETTINGS)
    assert report.held_out_curve == [] and report.best_step is None
    assert float(model.w.detach()) > 2.0  # well past the window where the action was greedy


def test_a_fresh_adapters_start_is_recorded_but_never_kept():
    """The start and a later window answer every held-out action greedily; the first best is the start,
    unless ``select_start=False`` (a fresh adapter, whose start is the bare base): then the later weights
    are kept, and the start's accuracy is still recorded."""

    class StartAndWindow(OneWeightPolicy):
        def train_terms(self, model, examples):
            terms = super().train_terms(model, examples)
            w = model.w.expand(len(examples)).detach()
            return TrainTerms(terms.logp, terms.length, terms.smoothing, (w < 0.05) | ((w > 1.0) & (w < 1.5)))

    kept = retrain(StartAndWindow(), OneWeight(), dataset(3), SETTINGS)
    assert kept.best_step == 0
    fresh_model = OneWeight()
    fresh = retrain(StartAndWindow(), fresh_model, dataset(3), SETTINGS, select_start=False)
    assert fresh.held_out_curve[0] == [0, 1.0]
    assert fresh.best_step > 0 and 1.0 < float(fresh_model.w.detach()) < 1.5
