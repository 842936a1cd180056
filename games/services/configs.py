"""Creating game configs: generated contexts and imports of the original study's JSON files."""
from collections.abc import Mapping
from pathlib import Path

from django.db import transaction

from games.domain.game_configs import ConfigFormatError, ContextSpec, generate_contexts, parse_original_config
from games.models import NAME_VALIDATOR, ContextImage, GameConfig, Tangram
from games.selectors import context_spec_of
from games.services.bulk import BulkReport, Progress, list_input_files, no_progress

MAX_CONFIG_BYTES = 1_000_000
BATCH_SIZE = 500


def generate_configs(
    *,
    split: str,
    count: int,
    seed: int,
    target_weights: Mapping[int, float] | None = None,
    prefix: str | None = None,
    progress: Progress = no_progress,
) -> BulkReport:
    """Generate ``count`` contexts from the tangrams of one split.

    Names are ``<prefix><seed>-<i>`` (prefix defaults to the split); config i depends only on
    the seed and the split's tangrams, so re-running adds nothing and a larger count extends.
    """
    if split not in GameConfig.ConfigSplit.values or split == GameConfig.ConfigSplit.MIXED:
        raise ValueError(f"unknown split {split!r} (choose dev, train or test)")
    if count < 1:
        raise ValueError("count must be at least 1")
    pool = list(Tangram.objects.filter(split=split).order_by("name").values_list("name", flat=True))
    if len(pool) < 10:
        raise ValueError(f"the {split} split has {len(pool)} tangrams; a context needs 10")
    kwargs = {"seed": seed}
    if target_weights is not None:
        kwargs["target_weights"] = target_weights
    specs = generate_contexts(pool, count, **kwargs)
    prefix = f"{split}-" if prefix is None else prefix
    named = [(f"{prefix}{seed}-{i:05d}", spec) for i, spec in enumerate(specs)]
    report = BulkReport(noun="configs")
    _store(
        named, report, origin=GameConfig.Origin.GENERATED, seed=seed, source_files={}, progress=progress
    )
    return report


def import_original_configs(path: Path, *, prefix: str | None = None, progress: Progress = no_progress) -> BulkReport:
    """Import the original study's game JSON files (a folder or one file).

    Each config is named ``<prefix><file stem>``; the prefix defaults to the folder's name plus
    ``-``, because the original's dev and train/test folders reuse the same file names.
    """
    files = list_input_files(path)
    folder = path.parent if path.is_file() else path
    prefix = f"{folder.resolve().name}-" if prefix is None else prefix
    tangram_names = set(Tangram.objects.values_list("name", flat=True))
    report = BulkReport(noun="configs")
    named: list[tuple[str, ContextSpec]] = []
    source_files: dict[str, str] = {}
    for file in progress(files, len(files)):
        label = file.name
        if file.suffix.lower() != ".json":
            report.skip(label, "not a .json file")
            continue
        name = f"{prefix}{file.stem}"
        try:
            NAME_VALIDATOR(name)
        except Exception:
            report.skip(label, f"{name!r} is not a valid config name")
            continue
        try:
            if file.stat().st_size > MAX_CONFIG_BYTES:
                raise ConfigFormatError("file is larger than 1 MB")
            spec = parse_original_config(file.read_bytes())
        except ConfigFormatError as exc:
            report.skip(label, str(exc))
            continue
        except OSError as exc:
            report.skip(label, f"cannot read file: {exc.strerror or exc}")
            continue
        missing = [image for image in spec.images if image not in tangram_names]
        if missing:
            report.skip(label, f"unknown tangrams (import them first): {', '.join(missing)}")
            continue
        named.append((name, spec))
        source_files[name] = label
    _store(named, report, origin=GameConfig.Origin.IMPORTED, seed=None, source_files=source_files)
    return report


@transaction.atomic
def _store(
    named: list[tuple[str, ContextSpec]],
    report: BulkReport,
    *,
    origin: str,
    seed: int | None,
    source_files: Mapping[str, str],
    progress: Progress = no_progress,
) -> None:
    existing = {
        c.name: c
        for c in GameConfig.objects.filter(name__in=[n for n, _ in named]).prefetch_related(
            "context_images__tangram"
        )
    }
    tangram_ids: dict[str, tuple[int, str]] = {}
    needed = {image for _, spec in named for image in spec.images}
    for pk, name, split in Tangram.objects.filter(name__in=needed).values_list("pk", "name", "split"):
        tangram_ids[name] = (pk, split)

    new: list[tuple[str, ContextSpec]] = []
    for name, spec in named:
        if name not in existing:
            new.append((name, spec))
        elif context_spec_of(existing[name]) == spec:
            report.unchanged.append(name)
        else:
            report.skip(source_files.get(name, name), f"a different config named {name!r} already exists")

    for start in range(0, len(new), BATCH_SIZE):
        chunk = new[start : start + BATCH_SIZE]
        configs = [
            GameConfig(
                name=name,
                split=_config_split({tangram_ids[i][1] for i in spec.images}),
                origin=origin,
                num_targets=spec.num_targets,
                seed=seed,
                source_file=source_files.get(name, ""),
            )
            for name, spec in chunk
        ]
        GameConfig.objects.bulk_create(configs)
        # bulk_create sets primary keys on PostgreSQL and SQLite; fetch them by name to be safe.
        pks = dict(GameConfig.objects.filter(name__in=[c.name for c in configs]).values_list("name", "pk"))
        images = []
        for name, spec in progress(chunk, len(chunk)):
            speaker_pos = {image: i for i, image in enumerate(spec.speaker_order)}
            listener_pos = {image: i for i, image in enumerate(spec.listener_order)}
            for index, image in enumerate(spec.images):
                images.append(
                    ContextImage(
                        config_id=pks[name],
                        tangram_id=tangram_ids[image][0],
                        index=index,
                        is_target=index < spec.num_targets,
                        speaker_position=speaker_pos[image],
                        listener_position=listener_pos[image],
                    )
                )
        ContextImage.objects.bulk_create(images)
        report.created.extend(c.name for c in configs)
        report.by_split.update(c.split for c in configs)


def _config_split(tangram_splits: set[str]) -> str:
    if len(tangram_splits) == 1:
        return next(iter(tangram_splits))
    return GameConfig.ConfigSplit.MIXED
