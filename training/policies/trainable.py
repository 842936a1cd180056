"""A policy ready to train: a privately loaded base (not the process's shared one, which live games
may be using) with a trainable LoRA adapter, for either model backend (the folder's config says which)."""
from __future__ import annotations

from pathlib import Path

import torch

from training.policies.common import ImageSource


def open_for_training(
    base_dir: Path, images: ImageSource, *, adapter_dir: Path | None = None, seed: int = 0, **lora_options,
):
    """(policy, trainable module): a fresh LoRA with the study's settings (``lora_options`` override the
    backend's ``lora_config``), or the adapter at ``adapter_dir`` made trainable again (to continue from it).
    The policy acts and scores with that adapter, as it is at the time of the call."""
    from peft import PeftModel, get_peft_model

    from training.policies.compact_listener import ListenerPolicy, is_listener_folder, load_listener_base
    from training.policies.compact_listener import lora_config as listener_lora
    from training.policies.hf import HFPolicy
    from training.policies.hf_base import load_base
    from training.policies.hf_base import lora_config as hf_lora

    if is_listener_folder(base_dir):
        base, policy_class, lora = load_listener_base(base_dir), ListenerPolicy, listener_lora
    else:
        base, policy_class, lora = load_base(base_dir), HFPolicy, hf_lora
    torch.manual_seed(seed)
    if adapter_dir is not None:
        base.model = PeftModel.from_pretrained(base.model, str(adapter_dir), is_trainable=True)
    else:
        base.model = get_peft_model(base.model, lora(**lora_options))
    policy = policy_class(base, images)
    policy.adapter = base.model.active_adapter  # the policy's adapter on its private base: the trainable one
    return policy, base.model


__all__ = ["open_for_training"]
