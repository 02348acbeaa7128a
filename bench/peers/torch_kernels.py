"""The PyTorch FP16 peer's GPU kernels, one forward pass at a batch size, in launch order with
their durations (torch.profiler): where cuDNN spends the time that bench:infer compares with.
No part of Vigil.

Usage: python3 torch_kernels.py <int8check dir> <out.json> [batch, default 32]
"""
import json
import sys

import torch
from torch.profiler import ProfilerActivity, profile

from infer_peers import build_torch, frames_of


def main():
    d, out = sys.argv[1], sys.argv[2]
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    torch.backends.cudnn.benchmark = True
    forward = build_torch(d)
    with torch.inference_mode():
        x = torch.tensor(frames_of(d, batch), device="cuda").half().contiguous(memory_format=torch.channels_last)
        for _ in range(20):
            forward(x)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(5):
                forward(x)
            torch.cuda.synchronize()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    per = len(kernels) // 5
    runs = [kernels[i * per:(i + 1) * per] for i in range(5)]
    rows = []
    for k in range(per):
        us = sorted(r[k].device_time for r in runs)
        rows.append({"kernel": runs[0][k].name, "us": us[2]})
    total = sum(r["us"] for r in rows)
    for r in rows:
        print(f"{r['us']:9.1f} us  {r['kernel'][:150]}")
    print(f"batch {batch}: {per} kernels, {total / 1000:.3f} ms")
    json.dump({"batch": batch, "device": torch.cuda.get_device_name(0), "cudnn": torch.backends.cudnn.version(), "totalMs": total / 1000, "kernels": rows}, open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
