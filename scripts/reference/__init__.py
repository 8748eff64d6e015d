"""PyTorch reference implementations of qkv's models, optimizers and schedules, for parity checks.

safetensors_io: a numpy reader and writer of the safetensors format.
models:         GPT, Encoder and Seq2Seq with qkv's architecture and parameter names, and a char/BPE decoder.
train_ref:      qkv's optimizers (as torch.optim with two parameter groups), schedules and train_step.
"""
