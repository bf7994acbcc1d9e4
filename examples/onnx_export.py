"""Train a small CNN for a few steps, export it to ONNX and check it with onnxruntime.
Plain PyTorch: `python examples/onnx_export.py` or `jtorch run examples/onnx_export.py`.

Shows: torch.onnx.export with input/output names and a dynamic batch axis (the legacy
`dynamo=False` path, which needs no extra exporter packages), BatchNorm exported in eval
mode, and running the file with onnxruntime (if installed) at another batch size.
"""
import argparse
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.MaxPool2d(2),                                        # 8x8 -> 4x4
            nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def make_batch(gen, n):
    """Images whose class is the quadrant holding the brightest 2x2 patch."""
    x = torch.rand(n, 1, 8, 8, generator=gen) * 0.3
    y = torch.randint(0, 4, (n,), generator=gen)
    for i, c in enumerate(y.tolist()):
        r, q = divmod(c, 2)
        x[i, 0, r * 4 + 1:r * 4 + 3, q * 4 + 1:q * 4 + 3] += 1.0
    return x, y


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", default=None, help="where to write the .onnx file")
    args = p.parse_args()

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(args.steps):
        x, y = make_batch(gen, args.batch_size)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f}")

    model.eval()
    example, _ = make_batch(gen, 2)
    path = args.out or os.path.join(tempfile.mkdtemp(), "cnn.onnx")
    torch.onnx.export(model, (example,), path, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=18, dynamo=False)
    print(f"exported to {path} ({os.path.getsize(path)} bytes)")

    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime not installed: skipping the check")
        return
    sess = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    x, _ = make_batch(gen, 5)                         # another batch size than exported
    (logits,) = sess.run(None, {"image": x.numpy()})
    with torch.no_grad():
        expected = model(x).numpy()
    print(f"onnxruntime max abs diff {np.abs(logits - expected).max():.3g} "
          f"(batch {logits.shape[0]})")


if __name__ == "__main__":
    main()
