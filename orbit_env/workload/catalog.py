"""Catalog of real training (and batch-inference) runs that jobs are drawn from.

Work is measured in the model's own unit (tokens, images, sequences) and turned into time through the
throughput on one H100 SXM at full power, so a faster accelerator finishes the same job sooner:

    runtime = work / (throughput x relative_speed(accelerator) x throughput_factor(cap) x GPUs)

Byte conventions (what the simulator moves):
  - ``dataset_bytes``: everything a satellite must receive before the job can start (training data and,
    for fine-tuning / inference, the frozen base weights).
  - ``checkpoint_bytes``: the state that changes while the job runs (trained weights + optimizer state;
    for LoRA only the adapters and their Adam state; for inference the outputs so far).
  - ``result_bytes``: what is downlinked when the job is done.
Sources: reference/physics.md section 4 unless noted; [calc] = derived here, [est] = estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbit_env.accelerators import ACCELERATORS, Accelerator
from orbit_env.physics.power import dvfs_speed


@dataclass(frozen=True)
class ModelProfile:
    name: str
    unit: str  # what work is counted in: "token", "image", "sequence"
    params: float  # parameters
    flops_per_unit: float  # training FLOPs per unit of work (6N per token for transformers)
    throughput: float  # units/s on one H100 SXM at full power
    memory_gb: float  # GPU memory the run needs
    checkpoint_bytes: float  # weights + optimizer state (the state that changes; see module doc)
    dataset_bytes: float  # bytes to uplink before the job can start
    result_bytes: float  # bytes to downlink when done (final weights / outputs)
    dvfs_gamma: float  # power-cap sensitivity: 0.5 compute-bound (physics.md s4), lower if memory-bound
    typical_work: float  # work of a typical job, for the Poisson generator
    source: str
    kind: str = "pretrain"  # "pretrain", "finetune" or "inference"
    trace_names: tuple[str, ...] = ()  # model_name values in job traces (ElasticFlow) that mean this model


MODELS: dict[str, ModelProfile] = {
    m.name: m
    for m in (
        ModelProfile(
            name="gpt2-124m",
            unit="token",
            params=124_439_808,
            flops_per_unit=6 * 124_439_808,
            throughput=400_000.0,  # physics.md s4 / s10: sim default 300-450k tok/s on one H100, 400k used
            memory_gb=40.0,  # [est] batch 16 x 1024 in bf16 fits in well under 80 GB
            checkpoint_bytes=1.49e9,  # physics.md s4: fp32 weights + AdamW m, v
            dataset_bytes=2.0e9,  # [calc] a 1B-token shard of uint16 tokens
            result_bytes=2.49e8,  # physics.md s4: bf16 weights
            dvfs_gamma=0.5,
            typical_work=1.0e9,  # [est] 1B tokens, ~42 min on one H100
            source="nanoGPT README and issue #110; llm.c discussion #481 (physics.md s4)",
            trace_names=("gpt2",),
        ),
        ModelProfile(
            name="shakespeare-char",
            unit="token",
            params=10_700_000,
            flops_per_unit=6 * 10_700_000,
            # physics.md s4: ~3 min on one A100 for 5000 iters of 64 x 256 chars = 455k tok/s [calc]; used for
            # the H100 too [est]: a 10.7M-parameter model is bound by kernel launches, not FLOPs.
            throughput=450_000.0,
            memory_gb=4.0,  # [est]
            checkpoint_bytes=1.28e8,  # physics.md s4: ~128 MB with Adam state
            dataset_bytes=1.1e6,  # [calc] ~1.1M characters of Shakespeare
            result_bytes=4.3e7,  # [calc] 10.7M fp32 weights
            dvfs_gamma=0.5,
            typical_work=5000 * 64 * 256,  # nanoGPT README config: 5000 iters x batch 64 x block 256
            source="nanoGPT README, config/train_shakespeare_char.py (physics.md s4); what Starcloud-1 trained",
        ),
        ModelProfile(
            name="llama2-7b-lora",
            unit="token",
            params=6.74e9,  # LLaMA-2-7B
            # LoRA skips weight gradients of the frozen base: forward 2N + activation backward 2N = 4N [calc];
            # NeMo's own count agrees: 663 TFLOP/s / 24,824 tok/s = 26.7 GFLOP/token = 4 x 6.74e9.
            flops_per_unit=4 * 6.74e9,
            # NVIDIA NeMo performance summary (docs.nvidia.com/nemo-framework, 24.12): LLAMA2-7B LoRA on
            # H100, FP8, 8 GPUs, sequences packed to 4096 (SQuAD v1.1): 24,824 tokens/s per GPU.
            throughput=24_824.0,
            memory_gb=40.0,  # [est] 13.5 GB bf16 base weights + activations of a 4096-token packed sequence
            checkpoint_bytes=2.0e8,  # [est] ~17M adapter params (rank 16 on q,k,v,o x 32 layers) x 12 B (fp32 w, m, v)
            dataset_bytes=1.35e10 + 4.0e7,  # [calc] bf16 base weights (6.74e9 x 2 B) + SQuAD v1.1 train (~40 MB)
            result_bytes=3.4e7,  # [calc] adapters in bf16
            dvfs_gamma=0.5,  # compute-bound like pretraining (physics.md s4)
            typical_work=5.0e7,  # [est] ~3 epochs of SQuAD-sized data; ~34 min on one H100
            source="NVIDIA NeMo Framework 24.12 performance summary (LoRA fine-tuning table)",
            kind="finetune",
        ),
        ModelProfile(
            name="resnet50-imagenet",
            unit="image",
            params=25.6e6,  # MLPerf Inference paper (Reddi et al. 2020), Table I: 25.6M parameters
            flops_per_unit=3 * 8.2e9,  # same table: 8.2 GOPs per 224x224 forward; training ~3x forward [calc]
            # NVIDIA DeepLearningExamples ResNet50 v1.5 PyTorch README: 2,470 img/s on 1x A100-80GB with AMP.
            # H100 SXM [est]: x1.6, the HBM bandwidth ratio 3.35 / 2.04 TB/s (convnets are bandwidth-bound).
            throughput=4_000.0,
            memory_gb=30.0,  # [est] batch 256 with AMP
            checkpoint_bytes=2.05e8,  # [calc] fp32 weights + SGD momentum: 25.6M x 8 B (checkpoint.pth.tar)
            dataset_bytes=1.47e11,  # ILSVRC2012 train set, 1,281,167 JPEGs, ~138 GiB (image-net.org)
            result_bytes=1.02e8,  # [calc] fp32 weights
            dvfs_gamma=0.4,  # [est] between compute-bound 0.5 and memory-bound inference 0.25
            typical_work=50 * 1_281_167,  # DeepLearningExamples' shortest schedule: 50 epochs; ~4.4 h
            source="NVIDIA DeepLearningExamples PyTorch/Classification/ConvNets/resnet50v1.5 README; MLPerf",
            kind="pretrain",
            trace_names=("resnet50",),
        ),
        ModelProfile(
            name="bert-base-squad",
            unit="sequence",  # one SQuAD feature of 384 tokens
            params=110e6,  # BERT-base (Devlin et al. 2019)
            flops_per_unit=6 * 110e6 * 384,  # 6N per token x 384 tokens [calc]
            # [est] the same FLOP rate as GPT-2 124M at 400k tok/s (6 x 124.4M x 4e5 = 2.99e14 FLOP/s, a model
            # of the same size on the same GPU): 2.99e14 / 2.53e11 = 1,180 sequences/s.
            throughput=1_180.0,
            memory_gb=16.0,  # [est] batch 32 x 384 with AMP
            checkpoint_bytes=1.32e9,  # [calc] fp32 weights + Adam m, v: 110M x 12 B
            dataset_bytes=4.7e8,  # [calc] pretrained fp32 weights (440 MB) + SQuAD v1.1 train json (~30 MB)
            result_bytes=4.4e8,  # [calc] fine-tuned fp32 weights
            dvfs_gamma=0.5,
            typical_work=175_176,  # DeepLearningExamples BERT (TF) README log: 2 epochs of SQuAD v1.1 = 175,176 seqs
            source="BERT (Devlin et al. 2019); NVIDIA DeepLearningExamples BERT README (SQuAD fine-tuning)",
            kind="finetune",
            trace_names=("bert",),
        ),
        ModelProfile(
            name="llama3.1-8b-inference",
            unit="token",  # output tokens, each request 1000 in / 1000 out
            params=8.03e9,
            flops_per_unit=2 * 2 * 8.03e9,  # 2N per processed token; 1000 prompt + 1000 output per request [calc]
            # TensorRT-LLM performance overview (docs/source/performance/perf-overview.md): Llama 3.1 8B, H100 SXM
            # 80GB, TP1, FP8, ISL/OSL 1000/1000: 15,220 output tokens/s.
            throughput=15_220.0,
            memory_gb=24.0,  # [est] 8 GB FP8 weights + 16 GB KV cache; the benchmark fills 90-95% of 80 GB
            checkpoint_bytes=4.0e7,  # [est] outputs so far (no optimizer): 10k requests x 1000 tokens x 4 B
            dataset_bytes=8.03e9 + 4.0e7,  # [calc] FP8 weights + 10k prompts x 1000 tokens x 4 B
            result_bytes=4.0e7,  # [calc] 1e7 output tokens x 4 B
            # physics.md s4: memory-bound inference loses 5-8% at 600 W vs 10-15% for training -> about half
            # the training exponent [est].
            dvfs_gamma=0.25,
            typical_work=1.0e7,  # [est] a 10k-request batch (1000 output tokens each); ~11 min on one H100
            source="TensorRT-LLM perf overview (Llama 3.1 8B FP8, H100 SXM); Three-Body runs 8B models (physics.md s3)",
            kind="inference",
        ),
    )
}

# Trace model names (lower case) -> catalog name, from each profile's trace_names.
TRACE_ALIASES: dict[str, str] = {alias: m.name for m in MODELS.values() for alias in (m.name, *m.trace_names)}


def _accel(accelerator: str | Accelerator) -> Accelerator:
    return ACCELERATORS[accelerator] if isinstance(accelerator, str) else accelerator


def throughput_factor(cap_w, accelerator: str | Accelerator = "h100-sxm", gamma=None) -> np.ndarray:
    """Fraction of full-power throughput at a power cap: min(1, ((cap - idle) / (work - idle)) ** gamma).

    The DVFS curve of physics.md s4 ([est], gamma 0.5 for compute-bound training); ``gamma`` defaults to the
    accelerator's and may be an array (one per job). Broadcasts over ``cap_w`` and ``gamma``.
    """
    acc = _accel(accelerator)
    return dvfs_speed(cap_w, acc.idle_w, acc.work_w, acc.dvfs_gamma if gamma is None else gamma)


def job_rate(
    model: str | ModelProfile, accelerator: str | Accelerator = "h100-sxm", cap_w=None, n_gpus: int = 1
) -> np.ndarray:
    """Work units per second of ``model`` on ``n_gpus`` accelerators at power cap ``cap_w`` (None = max).

    Reference throughput x relative peak speed (accelerators.py) x DVFS factor x GPU count.
    """
    m = MODELS[model] if isinstance(model, str) else model
    acc = _accel(accelerator)
    cap = acc.max_w if cap_w is None else cap_w
    return m.throughput * acc.relative_speed * throughput_factor(cap, acc, m.dvfs_gamma) * n_gpus


def runtime_s(
    model: str | ModelProfile, work, accelerator: str | Accelerator = "h100-sxm", cap_w=None, n_gpus: int = 1
) -> np.ndarray:
    """Seconds to do ``work`` units of ``model``; at full power on one H100 SXM this is work / throughput."""
    return np.asarray(work, dtype=float) / job_rate(model, accelerator, cap_w, n_gpus)
