"""LoRA adapters on a shared base model (any ``PreTrainedModel``: the Idefics backend and the compact
listener both use this). One loaded base carries one adapter per deployed system; a lock keeps
``set_adapter`` and the forward pass of one batch together. ``lora_config`` is the study's LoRA for
any backend's target layers."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch


# peft calls a transformers method that transformers 5 deprecates; the warning is for peft, not us.
warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)


class PolicyLoadError(RuntimeError):
    """A base model or adapter that cannot be used (missing, corrupt, or not matching)."""


def lora_config(target_modules: str, *, r: int = 8, alpha: int = 8, dropout: float = 0.1, **kwargs: Any):
    """The study's LoRA settings (r = alpha = 8, dropout 0.1, gaussian init) on ``target_modules`` (a
    regular expression over module names: each backend names its own layers)."""
    from peft import LoraConfig

    kwargs.setdefault("init_lora_weights", "gaussian")
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules, **kwargs)


class AdapterHost:
    """Mixin for a loaded base: ``self.model``, ``self.path``; call ``_init_adapters()`` in ``__init__``."""

    model: Any
    path: Path

    def _init_adapters(self) -> None:
        self._adapters: dict[str, str] = {}  # real path -> adapter name
        self.lock = threading.RLock()  # set_adapter + forward must not interleave between threads

    def adapter(self, path: str | os.PathLike) -> str:
        """Load a LoRA adapter once (checked against this base first); returns its name."""
        real = os.path.realpath(path)
        with self.lock:
            if real in self._adapters:
                return self._adapters[real]
            name = "a" + hashlib.sha1(real.encode()).hexdigest()[:12]
            self._check_adapter(Path(real))
            from peft import PeftModel

            try:
                if isinstance(self.model, PeftModel):
                    self.model.load_adapter(real, adapter_name=name, is_trainable=False)
                else:
                    self.model = PeftModel.from_pretrained(self.model, real, adapter_name=name, is_trainable=False)
            except Exception as exc:
                raise PolicyLoadError(f"adapter {path} does not fit base {self.path}: {exc}") from exc
            self.model.eval()
            self._adapters[real] = name
            return name

    def _check_adapter(self, path: Path) -> None:
        """Before touching the model: the adapter's tensors must target existing linear layers of
        matching shapes (an adapter trained for another base fails here, clearly)."""
        from peft.utils import load_peft_weights

        if not path.is_dir():
            raise PolicyLoadError(f"adapter {path}: folder does not exist")
        try:
            config = json.loads((path / "adapter_config.json").read_text())
            weights = load_peft_weights(str(path), device="cpu")
        except Exception as exc:
            raise PolicyLoadError(f"adapter {path}: not a readable peft adapter ({exc})") from exc
        if not isinstance(config, dict) or "peft_type" not in config:
            raise PolicyLoadError(f"adapter {path}: adapter_config.json has no peft_type")
        modules = dict(self._base_model().named_modules())
        for key, tensor in weights.items():
            name = key.removeprefix("base_model.model.")
            for kind in (".lora_A.", ".lora_B."):
                if kind in name:
                    module = modules.get(name.split(kind)[0])
                    module = getattr(module, "base_layer", module)  # already wrapped by an earlier adapter
                    if not isinstance(module, torch.nn.Linear):
                        raise PolicyLoadError(
                            f"adapter {path} does not fit base {self.path}: no linear layer {name.split(kind)[0]}"
                        )
                    want = module.in_features if kind == ".lora_A." else module.out_features
                    got = tensor.shape[1] if kind == ".lora_A." else tensor.shape[0]
                    if want != got:
                        raise PolicyLoadError(
                            f"adapter {path} does not fit base {self.path}: {name} has size {got}, "
                            f"the base layer {want}"
                        )

    def _base_model(self):
        from peft import PeftModel

        return self.model.get_base_model() if isinstance(self.model, PeftModel) else self.model

    @contextlib.contextmanager
    def active(self, adapter: str | None) -> Iterator[Any]:
        """The model with ``adapter`` active (None: the base alone), held under the lock."""
        from peft import PeftModel

        with self.lock:
            if not isinstance(self.model, PeftModel):
                if adapter is not None:
                    raise KeyError(adapter)
                yield self.model
            elif adapter is None:
                with self.model.disable_adapter():
                    yield self.model
            else:
                self.model.set_adapter(adapter)
                yield self.model
