"""qkv's optimizers, learning-rate schedules and training step (train/optim.cpp, train/schedule.cpp,
train/trainer.cpp train_step) with torch.optim.

- Two parameter groups: weight decay only on parameters with dim >= 2 (as nanoGPT).
- sgd: torch.optim.SGD (momentum, dampening 0); adam: torch.optim.Adam (decay through the gradient);
  adamw: torch.optim.AdamW (decoupled decay).
- The learning rate of step s (counted from 1) is computed in double and rounded once to float, as qkv does.
- A step: zero the gradients, backward every micro-batch's loss / accum (the loss itself when accum is 1),
  clip the global norm (grad_clip 0 only measures), and update when the loss and the norm are finite.
"""
import math

import numpy as np
import torch


def learning_rate(optim, step, max_steps, d_model):
    """optim: the config's "optim" section (a dict)."""
    if step < 1:
        raise ValueError(f"learning_rate: step counts from 1, got {step}")
    lr, min_lr, schedule = optim["lr"], optim["min_lr"], optim["schedule"]
    f32 = lambda x: float(np.float32(x))
    if schedule == "constant":
        return f32(lr)
    if schedule == "cosine":
        warmup = optim["warmup_steps"]
        decay = optim["decay_steps"] if optim["decay_steps"] > 0 else max_steps
        if step <= warmup:
            return f32(lr * step / warmup)
        if step > decay:
            return f32(min_lr)
        r = (step - warmup) / (decay - warmup)
        return f32(min_lr + 0.5 * (1.0 + math.cos(math.pi * r)) * (lr - min_lr))
    if schedule == "noam":
        warmup = optim["warmup_steps"]
        return f32(lr / math.sqrt(d_model) * min(1.0 / math.sqrt(step), step * warmup ** -1.5))
    raise ValueError(f"optim.schedule must be constant, cosine or noam, got {schedule!r}")


def make_optimizer(model, optim, **impl):
    """impl: the implementation keywords of the torch.optim class (foreach=True, fused=True), for the
    benchmarks; none by default (parity)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": optim["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
    name, lr = optim["name"], optim["lr"]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=optim["momentum"], **impl)
    betas = (optim["beta1"], optim["beta2"])
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=optim["eps"], **impl)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=optim["eps"], **impl)
    raise ValueError(f"optim.name must be sgd, adam or adamw, got {name!r}")


def train_step(model, optimizer, config, step, micro_batches, loss_of, after_backward=None):
    """One update as qkv's train_step. config: the whole qkv config (dict); micro_batches: the step's
    batches; loss_of(model, batch) -> rank-0 loss; after_backward() runs once the gradients are in,
    before clipping. Returns (mean loss, lr, grad norm before clipping)."""
    optim = config["optim"]
    lr = learning_rate(optim, step, config["train"]["max_steps"], config["model"]["d_model"])
    for p in model.parameters():  # qkv's zero_grad gives every parameter a (zero) gradient
        p.grad = torch.zeros_like(p)
    accum, losses = len(micro_batches), []
    for batch in micro_batches:
        loss = loss_of(model, batch)
        losses.append(loss.item())
        (loss if accum == 1 else loss * (1.0 / accum)).backward()
    if after_backward is not None:
        after_backward()
    params = list(model.parameters())
    if optim["grad_clip"] > 0:
        norm = float(torch.nn.utils.clip_grad_norm_(params, optim["grad_clip"]))
    else:
        norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params)))
    mean = sum(losses) / accum
    if math.isfinite(mean) and math.isfinite(norm):
        for g in optimizer.param_groups:
            g["lr"] = lr
        optimizer.step()
    return mean, lr, norm
