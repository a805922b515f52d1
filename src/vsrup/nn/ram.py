"""RAM, the Recognize Anything Model (Zhang et al. 2023), reduced to its image tagger.

What runs: a Swin image encoder, a projection to 512-d, and the Query2Label-style tagging head
(one learned 512-d embedding per tag, projected and ReLU'd into queries; each head layer is
cross-attention from the tag queries into the image tokens, then a feed-forward block; BERT
layout with post-LayerNorm). A linear layer scores each tag; a tag is kept when its sigmoid
exceeds that tag's own threshold. Tags come out in vocabulary order, joined by ", ", which is
how the RAM variant in DLoRAL's and SeeSR's code (DAPE) formats them.

Module names follow the official `RAMLora`, so its state dicts map onto ours by name (see
`vsrup.nn.ram_weights` for the renames, the weight tying and the LoRA merge). The captioning
parts of the official model (`tag_encoder` beyond what is tied to the head, `text_decoder`) do
nothing for tagging and are not built.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from vsrup.nn.swin import SWIN_L_384, SwinConfig, SwinTransformer

#: ImageNet statistics: RAM's input normalisation.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class RAMConfig:
    swin: SwinConfig = SWIN_L_384
    num_classes: int = 4585
    #: Width of the tag embeddings and of the projected image tokens (fixed in RAM's code).
    embed_width: int = 512
    #: The tagging head (`configs/q2l_config.json`).
    hidden_size: int = 768
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 3072
    layer_norm_eps: float = 1e-12
    #: Tags with no threshold of their own use this one (RAM's default).
    default_threshold: float = 0.68
    tags: tuple[str, ...] = field(default=(), compare=False)


class CrossSelfAttention(nn.Module):
    """BERT's attention projections, used as cross-attention: queries from the tags, keys and
    values from the image tokens (named `self` in BERT's layout: `crossattention.self.query`)."""

    def __init__(self, hidden: int, kv_width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(kv_width, hidden)
        self.value = nn.Linear(kv_width, hidden)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, -1).transpose(1, 2)

    def forward(self, tags: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        q, k, v = (
            self._split(self.query(tags)),
            self._split(self.key(image)),
            self._split(self.value(image)),
        )
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        out = scores.softmax(-1) @ v
        b, _, n, _ = out.shape
        return out.transpose(1, 2).reshape(b, n, -1)


class DenseNorm(nn.Module):
    """dense → residual add → LayerNorm (BERT's `*.output` blocks)."""

    def __init__(self, width_in: int, width_out: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(width_in, width_out)
        self.LayerNorm = nn.LayerNorm(width_out, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class CrossAttention(nn.Module):
    def __init__(self, cfg: RAMConfig) -> None:
        super().__init__()
        self.self = CrossSelfAttention(cfg.hidden_size, cfg.embed_width, cfg.num_heads)
        self.output = DenseNorm(cfg.hidden_size, cfg.hidden_size, cfg.layer_norm_eps)

    def forward(self, tags: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(tags, image), tags)


class Intermediate(nn.Module):
    def __init__(self, cfg: RAMConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class TagLayer(nn.Module):
    """One head layer in RAM's "tagging" mode: no self-attention (Query2Label removes it)."""

    def __init__(self, cfg: RAMConfig) -> None:
        super().__init__()
        self.crossattention = CrossAttention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = DenseNorm(cfg.intermediate_size, cfg.hidden_size, cfg.layer_norm_eps)

    def forward(self, tags: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        x = self.crossattention(tags, image)
        return self.output(self.intermediate(x), x)


class TagEncoder(nn.Module):
    def __init__(self, cfg: RAMConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(TagLayer(cfg) for _ in range(cfg.num_layers))


class TaggingHead(nn.Module):
    def __init__(self, cfg: RAMConfig) -> None:
        super().__init__()
        self.encoder = TagEncoder(cfg)

    def forward(self, tags: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        for layer in self.encoder.layer:
            tags = layer(tags, image)
        return tags


class RAMTagger(nn.Module):
    """Images → tag scores and tag strings. Inputs are (B, 3, S, S) ImageNet-normalised."""

    def __init__(self, cfg: RAMConfig, thresholds: Sequence[float] | None = None) -> None:
        super().__init__()
        if cfg.tags and len(cfg.tags) != cfg.num_classes:
            raise ValueError(f"{len(cfg.tags)} tag names for {cfg.num_classes} classes")
        self.config = cfg
        self.visual_encoder = SwinTransformer(cfg.swin)
        self.image_proj = nn.Linear(cfg.swin.num_features, cfg.embed_width)
        self.label_embed = nn.Parameter(torch.zeros(cfg.num_classes, cfg.embed_width))
        # RAM uses no projection when the head is as wide as the embeddings.
        self.wordvec_proj: nn.Module = (
            nn.Identity()
            if cfg.hidden_size == cfg.embed_width
            else nn.Linear(cfg.embed_width, cfg.hidden_size)
        )
        self.tagging_head = TaggingHead(cfg)
        self.fc = nn.Linear(cfg.hidden_size, 1)
        if thresholds is None:
            thresholds = [cfg.default_threshold] * cfg.num_classes
        if len(thresholds) != cfg.num_classes:
            raise ValueError(f"{len(thresholds)} thresholds for {cfg.num_classes} classes")
        self.register_buffer(
            "class_threshold",
            torch.tensor(list(thresholds), dtype=torch.float32, device="cpu"),
            persistent=False,
        )

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """(B, num_classes) tag logits."""
        image = self.image_proj(self.visual_encoder(images))
        queries = F.relu(self.wordvec_proj(self.label_embed))
        queries = queries.unsqueeze(0).expand(images.shape[0], -1, -1)
        return self.fc(self.tagging_head(queries, image)).squeeze(-1)

    @torch.no_grad()
    def tag(self, images: torch.Tensor) -> list[str]:
        """One ", "-joined tag string per image (empty when no tag passes its threshold)."""
        if not self.config.tags:
            raise ValueError("this tagger has no tag names")
        # In the logits' dtype, as the official code does (fp16 in DLoRAL's inference).
        probs = torch.sigmoid(self.logits(images))
        keep = probs > self.class_threshold.to(probs.device)
        return [
            ", ".join(self.config.tags[i] for i in row.nonzero().flatten().tolist()) for row in keep
        ]


def normalize(images: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] → RAM's input: bilinear to size×size, then ImageNet mean/std.

    No antialiasing: DLoRAL's inference applies torchvision's `Resize((size, size))` to a
    tensor, and the torchvision of its pinned torch 2.0.1 (0.15) does not antialias tensors."""
    x = F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=False)
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std
