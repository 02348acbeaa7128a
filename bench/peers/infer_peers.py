"""Peers for bench:infer, run on the lent GPU box beside Vigil's engine (no part of Vigil).

- ONNX Runtime CPU on the same QDQ INT8 ONNX Vigil runs (as ORT's CPU loads it), all cores.
- The same network with the same weights in PyTorch FP16 on the GPU (cuDNN, benchmark mode,
  channels_last), rebuilt here from the FP32 plan bench/int8Prepare.ts exported: eager, and
  captured in a CUDA graph.

Usage: python3 infer_peers.py <int8check dir> <out.json> [batches, e.g. 1,8,32,64]
"""
import json
import os
import sys
import time

import numpy as np

S = 416


def stats(ms, batch):
    s = sorted(ms)
    p = lambda q: s[min(len(s) - 1, max(0, int(np.ceil(q / 100 * len(s))) - 1))]
    mean = sum(ms) / len(ms)
    return {"batch": batch, "p50": p(50), "p99": p(99), "mean": mean, "perSecond": batch * 1000 / mean}


def frames_of(d, batch):
    f = np.fromfile(os.path.join(d, "frames.f32"), dtype=np.float32).reshape(-1, 3, S, S)
    idx = [i % len(f) for i in range(batch)]
    return np.ascontiguousarray(f[idx])


def ort_peer(d, batches, errors):
    import onnxruntime as ort

    threads = os.cpu_count() or 1
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(os.path.join(d, "nanodet-int8-ort.onnx"), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    rows = []
    for b in batches:
        x = frames_of(d, b)
        for _ in range(2):
            sess.run(None, {name: x})
        ms = []
        t_end = time.perf_counter() + (4 if b <= 8 else 8)
        while time.perf_counter() < t_end or len(ms) < 3:
            t0 = time.perf_counter()
            sess.run(None, {name: x})
            ms.append((time.perf_counter() - t0) * 1000)
        rows.append(stats(ms, b))
        print(f"ort cpu batch {b}: {rows[-1]}", flush=True)
    return {"version": ort.__version__, "threads": threads, "rows": rows}


def build_torch(d):
    import torch
    import torch.nn.functional as F

    plan = json.load(open(os.path.join(d, "nanodet-fp32.plan.json")))
    w = np.fromfile(os.path.join(d, "nanodet-fp32.plan.bin"), dtype=np.float32)
    dev = torch.device("cuda")
    convs = {}
    for i, s in enumerate(plan["steps"]):
        if s["op"] != "conv":
            continue
        O, C = s["outChannels"], s["inChannels"]
        kh, kw = s["kernel"]
        wt = w[s["weight"]["offset"]: s["weight"]["offset"] + s["weight"]["length"]].reshape(O, C // s["group"], kh, kw)
        bt = w[s["bias"]["offset"]: s["bias"]["offset"] + s["bias"]["length"]]
        pt, pl, pb, pr = s["pads"]
        assert pt == pb and pl == pr, "asymmetric pads"
        convs[i] = (
            torch.tensor(wt, device=dev).half().contiguous(memory_format=torch.channels_last),
            torch.tensor(bt, device=dev).half(),
            tuple(s["stride"]), (pt, pl), tuple(s["dilation"]), s["group"],
        )
    shapes = plan["shapes"]

    def act(x, e):
        if e["op"] == "leaky_relu":
            return F.leaky_relu(x, e["alpha"])
        if e["op"] == "relu":
            return F.relu(x)
        if e["op"] == "sigmoid":
            return torch.sigmoid(x)
        raise ValueError(e["op"])

    def forward(x):
        v = {plan["input"]: x}
        for i, s in enumerate(plan["steps"]):
            op = s["op"]
            if op == "conv":
                wt, bt, st, pd, dl, g = convs[i]
                y = F.conv2d(v[s["input"]], wt, bt, st, pd, dl, g)
                for e in s["epilogue"]:
                    y = act(y, e)
                v[s["output"]] = y
            elif op in ("leaky_relu", "relu", "sigmoid"):
                v[s["output"]] = act(v[s["input"]], {"op": op, "alpha": s.get("alpha", 0)})
            elif op in ("identity", "quantize", "dequantize"):
                v[s["output"]] = v[s["input"]]
            elif op == "maxpool":
                pt, pl, pb, pr = s["pads"]
                v[s["output"]] = F.max_pool2d(v[s["input"]], tuple(s["kernel"]), tuple(s["stride"]), (pt, pl))
            elif op == "concat":
                v[s["output"]] = torch.cat([v[n] for n in s["inputs"]], 1)
            elif op == "add":
                v[s["output"]] = v[s["inputs"][0]] + v[s["inputs"][1]]
            elif op == "resize":
                v[s["output"]] = F.interpolate(v[s["input"]], scale_factor=tuple(s["scale"]), mode="bilinear", align_corners=False)
            elif op == "split":
                for n, t in zip(s["outputs"], torch.split(v[s["input"]], s["sizes"], 1)):
                    v[n] = t
            elif op == "reshape":
                x0 = v[s["input"]]
                v[s["output"]] = x0.reshape(x0.shape[0], *shapes[s["output"]])
            elif op == "transpose":
                v[s["output"]] = v[s["input"]].permute(0, *[p + 1 for p in s["perm"]])
            else:
                raise ValueError(op)
        return [v[o] for o in plan["outputs"]]

    return forward


def torch_peer(d, batches, errors):
    import torch

    torch.backends.cudnn.benchmark = True
    forward = build_torch(d)
    rows, graph_rows = [], []
    with torch.inference_mode():
        for b in batches:
            x = torch.tensor(frames_of(d, b), device="cuda").half().contiguous(memory_format=torch.channels_last)
            for _ in range(20):
                forward(x)
            torch.cuda.synchronize()
            ms = []
            for _ in range(200 if b <= 8 else 100):
                t0 = time.perf_counter()
                forward(x)
                torch.cuda.synchronize()
                ms.append((time.perf_counter() - t0) * 1000)
            rows.append(stats(ms, b))
            print(f"torch fp16 eager batch {b}: {rows[-1]}", flush=True)
            try:
                s = torch.cuda.Stream()
                s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    for _ in range(3):
                        forward(x)
                torch.cuda.current_stream().wait_stream(s)
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    forward(x)
                for _ in range(10):
                    g.replay()
                torch.cuda.synchronize()
                ms = []
                for _ in range(200 if b <= 8 else 100):
                    t0 = time.perf_counter()
                    g.replay()
                    torch.cuda.synchronize()
                    ms.append((time.perf_counter() - t0) * 1000)
                graph_rows.append(stats(ms, b))
                print(f"torch fp16 graph batch {b}: {graph_rows[-1]}", flush=True)
            except Exception as e:  # a peer variant that cannot run is reported, not fatal
                errors.append(f"torch cuda graph batch {b}: {e}")
    return {"version": torch.__version__, "cudnn": torch.backends.cudnn.version(), "device": torch.cuda.get_device_name(0), "rows": rows, "graphRows": graph_rows}


def main():
    d, out = sys.argv[1], sys.argv[2]
    batches = [int(b) for b in (sys.argv[3] if len(sys.argv) > 3 else "1,8,32,64").split(",")]
    res, errors = {"errors": []}, []
    for name, fn in (("torch", torch_peer), ("ort", ort_peer)):
        try:
            res[name] = fn(d, batches, errors)
        except Exception as e:
            errors.append(f"{name}: {type(e).__name__}: {e}")
            print(errors[-1], flush=True)
    res["errors"] = errors
    json.dump(res, open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
